package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/distilbert-go/distilbert/internal/freelist"
)

// The worker pool is fixed: Threads goroutines serve every Linear call of
// the process, so concurrent requests queue for cores instead of
// oversubscribing them. A caller blocks while its chunks run.

var (
	threads  atomic.Int32
	poolMu   sync.Mutex
	poolJobs chan *job
	poolSize int
	jobPool  freelist.List[job]
)

func init() { threads.Store(int32(runtime.GOMAXPROCS(0))) }

// SetThreads sets how many cores kernels use (default GOMAXPROCS). n < 1 means 1.
func SetThreads(n int) { threads.Store(int32(max(n, 1))) }

// Threads returns the number of cores kernels use.
func Threads() int { return int(threads.Load()) }

// task is a unit of parallel work: run(i) for i in [0, n). Tasks are
// pooled structs, not closures, so a parallel call allocates nothing.
type task interface{ run(i int) }

// job is one parallelFor call shared by the workers that help with it:
// they pull indices from next until n is reached.
type job struct {
	t    task
	n    int64
	next atomic.Int64
	wg   sync.WaitGroup
}

func (j *job) work() {
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			break
		}
		j.t.run(int(i))
	}
	j.wg.Done()
}

// ensureWorkers starts workers up to n; they live for the process.
func ensureWorkers(n int) chan *job {
	poolMu.Lock()
	defer poolMu.Unlock()
	if poolJobs == nil {
		poolJobs = make(chan *job, 256)
	}
	for ; poolSize < n; poolSize++ {
		go func() {
			for j := range poolJobs {
				j.work()
			}
		}()
	}
	return poolJobs
}

// parallelFor runs t.run(0) … t.run(n-1) on up to Threads() cores and
// returns when all are done. With one thread, or one index, it runs inline.
// Tasks must not call parallelFor themselves (the workers would wait on
// each other).
func parallelFor(n int, t task) {
	th := Threads()
	if th <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			t.run(i)
		}
		return
	}
	jobs := ensureWorkers(th)
	j := jobPool.Get()
	j.t, j.n = t, int64(n)
	j.next.Store(0)
	helpers := min(th, n)
	j.wg.Add(helpers)
	for w := 0; w < helpers; w++ {
		jobs <- j
	}
	j.wg.Wait()
	j.t = nil
	jobPool.Put(j)
}
