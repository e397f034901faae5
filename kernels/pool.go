package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distilbert-go/distilbert/internal/freelist"
)

// The worker pool is fixed: Threads-1 goroutines help every parallel call
// of the process, whose caller works too, so concurrent requests queue for
// cores instead of oversubscribing them.
//
// Workers and callers spin briefly before they sleep, as ONNX Runtime's
// do: a batch-1 forward pass makes ~40 parallel calls of 0.1–1 ms each, and
// waking a parked goroutine costs tens of µs each time (more with 16
// threads). Settings.Spin = 0 (DISTILBERT_SPIN=0) turns spinning off, e.g. for a
// service that shares its cores with other work.

var (
	threads  atomic.Int32
	poolMu   sync.Mutex
	poolJobs chan *job
	poolSize int
	jobPool  freelist.List[job]
	// spinFor is how long pollers spin, in nanoseconds (Configure sets it).
	spinFor atomic.Int64
)

const defaultSpin = 100 * time.Microsecond

func init() {
	threads.Store(int32(runtime.GOMAXPROCS(0)))
	spinFor.Store(int64(defaultSpin))
}

// SetThreads sets how many cores kernels use (default GOMAXPROCS). n < 1
// means 1. The pool is the process's, like GOMAXPROCS: bench changes it
// between runs of one model.
func SetThreads(n int) { threads.Store(int32(max(n, 1))) }

// Threads returns the number of cores kernels use.
func Threads() int { return int(threads.Load()) }

// task is a unit of parallel work: run(i) for i in [0, n). Tasks are
// pooled structs, not closures, so a parallel call allocates nothing.
type task interface{ run(i int) }

// job is one parallelFor call shared by the caller and the workers that
// help with it: they pull indices from next until n is reached.
type job struct {
	t       task
	n       int64
	next    atomic.Int64
	helping atomic.Int32 // workers still inside work
	wg      sync.WaitGroup
}

func (j *job) work() {
	for {
		i := j.next.Add(1) - 1
		if i >= j.n {
			return
		}
		j.t.run(int(i))
	}
}

// ensureWorkers starts workers up to n; they live for the process.
func ensureWorkers(n int) chan *job {
	poolMu.Lock()
	defer poolMu.Unlock()
	if poolJobs == nil {
		poolJobs = make(chan *job, 256)
	}
	for ; poolSize < n; poolSize++ {
		go worker(poolJobs)
	}
	return poolJobs
}

func worker(jobs chan *job) {
	for {
		j := receive(jobs)
		j.work()
		j.helping.Add(-1)
		j.wg.Done()
	}
}

// receive takes the next job, polling for up to spinFor before it blocks.
// The poll reads the channel's length, which takes no lock: a select would
// take the channel's lock on every poll, contending with the sender when
// many workers idle (with select polls, 16 spinning threads were slower
// than sleeping ones).
func receive(jobs chan *job) *job {
	var j *job
	spinUntil(func() bool {
		if len(jobs) > 0 {
			select {
			case j = <-jobs:
				return true
			default: // another worker took it
			}
		}
		return false
	})
	if j != nil {
		return j
	}
	return <-jobs
}

// spinUntil polls ready for up to spinFor and reports whether it became
// true. Every 64 polls it yields the P to any runnable goroutine (a
// spinning goroutine is otherwise preempted only after 10 ms, and a
// service's request goroutines would wait on it) and checks the clock.
func spinUntil(ready func() bool) bool {
	spin := time.Duration(spinFor.Load())
	if spin <= 0 {
		return false
	}
	deadline := time.Now().Add(spin)
	for spins := 1; ; spins++ {
		if ready() {
			return true
		}
		if spins&63 == 0 {
			runtime.Gosched()
			if time.Now().After(deadline) {
				return false
			}
		}
	}
}

// parallelFor runs t.run(0) … t.run(n-1) on up to Threads() cores, the
// caller's included, and returns when all are done. With one thread, or
// one index, it runs inline. Tasks must not call parallelFor themselves
// (the workers would wait on each other).
func parallelFor(n int, t task) {
	th := Threads()
	if th <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			t.run(i)
		}
		return
	}
	helpers := min(th, n) - 1
	jobs := ensureWorkers(th - 1)
	j := jobPool.Get()
	j.t, j.n = t, int64(n)
	j.next.Store(0)
	j.helping.Store(int32(helpers))
	j.wg.Add(helpers)
	for w := 0; w < helpers; w++ {
		jobs <- j
	}
	j.work()
	// The helpers finish their last index about when the caller does.
	spinUntil(func() bool { return j.helping.Load() == 0 })
	j.wg.Wait()
	j.t = nil
	jobPool.Put(j)
}
