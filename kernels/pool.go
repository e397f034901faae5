package kernels

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool is fixed: Threads goroutines serve every Linear call of
// the process, so concurrent requests queue for cores instead of
// oversubscribing them. A caller blocks while its chunks run.

var (
	threads   atomic.Int32
	poolMu    sync.Mutex
	poolTasks chan func()
	poolSize  int
)

func init() { threads.Store(int32(runtime.GOMAXPROCS(0))) }

// SetThreads sets how many cores kernels use (default GOMAXPROCS). n < 1 means 1.
func SetThreads(n int) { threads.Store(int32(max(n, 1))) }

// Threads returns the number of cores kernels use.
func Threads() int { return int(threads.Load()) }

// ensureWorkers starts workers up to n; they live for the process.
func ensureWorkers(n int) chan func() {
	poolMu.Lock()
	defer poolMu.Unlock()
	if poolTasks == nil {
		poolTasks = make(chan func(), 256)
	}
	for ; poolSize < n; poolSize++ {
		go func() {
			for task := range poolTasks {
				task()
			}
		}()
	}
	return poolTasks
}

// parallelFor runs f(0) … f(n-1) on up to Threads() cores and returns when
// all are done. With one thread, or one task, it runs inline.
func parallelFor(n int, f func(i int)) {
	t := Threads()
	if t <= 1 || n <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	tasks := ensureWorkers(t)
	// Workers pull indices from a shared counter: t tasks, each looping,
	// balances uneven chunks without one channel send per chunk.
	var next atomic.Int64
	var wg sync.WaitGroup
	workers := min(t, n)
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		tasks <- func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}
	}
	wg.Wait()
}
