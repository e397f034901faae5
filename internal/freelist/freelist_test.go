package freelist

import (
	"runtime"
	"sync"
	"testing"
)

func TestReuseSurvivesGC(t *testing.T) {
	var l List[[64]byte]
	x := l.Get()
	l.Put(x)
	runtime.GC()
	runtime.GC()
	if y := l.Get(); y != x {
		t.Fatal("the free object was not reused after GC")
	}
}

func TestNewAndLIFO(t *testing.T) {
	made := 0
	l := List[int]{New: func() *int { made++; v := made; return &v }}
	a, b := l.Get(), l.Get()
	if *a != 1 || *b != 2 {
		t.Fatalf("New not used: %d %d", *a, *b)
	}
	l.Put(a)
	l.Put(b)
	if l.Get() != b || l.Get() != a || made != 2 {
		t.Fatal("not LIFO, or New called for a free object")
	}
}

func TestConcurrent(t *testing.T) {
	var l List[int]
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1000; i++ {
				x := l.Get()
				*x++
				l.Put(x)
			}
		}()
	}
	wg.Wait()
	total := 0
	for len(l.items) > 0 {
		total += *l.Get()
	}
	if total != 8000 {
		t.Fatalf("lost updates: %d", total)
	}
}
