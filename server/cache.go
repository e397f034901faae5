package server

import (
	"container/list"
	"sync"
)

// result is one prediction as the service answers it, and as it is cached.
type result struct {
	label     int       // index into the labels
	probs     []float32 // per label, in label order
	logits    []float32 // per label, in label order
	tokens    int
	truncated bool
}

// lru is a fixed-size least-recently-used cache of results keyed by the
// model's load generation and the exact text.
type lru struct {
	mu    sync.Mutex
	size  int
	ll    *list.List // front: most recent; values are *entry
	items map[string]*list.Element
}

type entry struct {
	key string
	res result
}

func newLRU(size int) *lru {
	if size <= 0 {
		return nil
	}
	return &lru{size: size, ll: list.New(), items: make(map[string]*list.Element, size)}
}

func (c *lru) get(key string) (result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		return e.Value.(*entry).res, true
	}
	return result{}, false
}

func (c *lru) add(key string, r result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.ll.MoveToFront(e)
		e.Value.(*entry).res = r
		return
	}
	c.items[key] = c.ll.PushFront(&entry{key, r})
	if c.ll.Len() > c.size {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*entry).key)
	}
}

// clear empties the cache (a reload made its entries unreachable).
func (c *lru) clear() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ll.Init()
	clear(c.items)
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len()
}
