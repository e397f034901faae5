// Package freelist keeps reusable scratch objects for the forward pass.
//
// It replaces sync.Pool there, which made requests allocate: a pool drops
// its objects at every other GC, and a goroutine that blocked on the worker
// pool often resumes on another P, where Get misses (an object in a P's
// private slot cannot be stolen) — each miss re-grew a whole workspace or
// packed-input buffer. A free list holds at most as many objects as there
// were concurrent users, and never lets go of them.
package freelist

import "sync"

// List is a LIFO of *T. The zero value is ready; New, if set, makes the
// object Get returns when the list is empty (else new(T)).
type List[T any] struct {
	New   func() *T
	mu    sync.Mutex
	items []*T
}

// Get returns a free object, or a new one.
func (l *List[T]) Get() *T {
	l.mu.Lock()
	if n := len(l.items); n > 0 {
		x := l.items[n-1]
		l.items[n-1] = nil
		l.items = l.items[:n-1]
		l.mu.Unlock()
		return x
	}
	l.mu.Unlock()
	if l.New != nil {
		return l.New()
	}
	return new(T)
}

// Put returns x to the list.
func (l *List[T]) Put(x *T) {
	l.mu.Lock()
	l.items = append(l.items, x)
	l.mu.Unlock()
}
