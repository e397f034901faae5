package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/distilbert/tokenize"
)

var (
	errQueueFull  = errors.New("queue full")
	errClientGone = errors.New("client went away")
	errStopped    = errors.New("service stopping")
)

// predictFunc runs the engine on one batch of one model
// (Classifier.PredictEncoded).
type predictFunc func(ctx context.Context, m *model, encs []tokenize.Encoding) ([]distilbert.Prediction, error)

func predictWithModel(ctx context.Context, m *model, encs []tokenize.Encoding) ([]distilbert.Prediction, error) {
	return m.clf.PredictEncoded(ctx, encs)
}

// job is the part of one request that needs the engine: its encoded texts
// and where the predictions go. The batcher goroutine owns remaining and
// writes preds; whoever closes the job first (the batcher, or abort at the
// end of the shutdown grace) writes err; the handler reads them after done
// is closed.
type job struct {
	m        *model // tokenized by, and to run on, this model
	encs     []tokenize.Encoding
	preds    []distilbert.Prediction
	enqueued time.Time
	deadline time.Time
	conn     net.Conn // for the client-went-away check; may be nil

	cancelled atomic.Bool // set by the handler when it gave up (timeout)
	done      chan struct{}
	err       error

	remaining int         // batcher-owned
	closed    atomic.Bool // done is closed (or about to be): the first to set it closes it
	checked   uint64
}

func newJob(m *model, encs []tokenize.Encoding, deadline time.Time, conn net.Conn) *job {
	return &job{
		m: m, encs: encs, preds: make([]distilbert.Prediction, len(encs)),
		deadline: deadline, conn: conn, done: make(chan struct{}), remaining: len(encs),
	}
}

// item is one queued sequence: encoding i of job j, n tokens long.
type item struct {
	j *job
	i int
	n int
}

// batcher is the one queue in front of the engine and the one goroutine
// that runs it. Whenever the engine is free it takes the oldest queued
// sequence and the queued sequences closest to it in length, up to
// maxSize sequences and maxTokens padded tokens, and runs them as one
// batch. A batch holds the sequences of one model only: after a reload,
// those tokenized for the old model still run on it. Admission is bounded
// by maxQueue sequences.
type batcher struct {
	predict   predictFunc
	maxSize   int
	maxTokens int
	maxWait   time.Duration
	maxQueue  int
	window    int         // how many queued sequences are considered for a batch
	noWait    atomic.Bool // draining: run what is queued without waiting for more
	metrics   *serverMetrics
	log       *slog.Logger

	mu       sync.Mutex
	items    []item
	running  []item // the batch being executed, for abort
	reserved int    // places taken by reserve, not yet filled by submit
	stopped  bool
	wake     chan struct{}
	stop     chan struct{}
	exited   chan struct{}
	round    uint64 // batcher-owned: one per batch taken
}

func newBatcher(predict predictFunc, cfg *Config, m *serverMetrics, log *slog.Logger) *batcher {
	if predict == nil {
		predict = predictWithModel
	}
	return &batcher{
		predict: predict, maxSize: cfg.MaxBatchSize, maxTokens: cfg.MaxBatchTokens,
		maxWait: cfg.MaxWait, maxQueue: cfg.MaxQueue, window: max(8*cfg.MaxBatchSize, 64),
		metrics: m, log: log,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), exited: make(chan struct{}),
	}
}

// depth is the number of queued sequences.
func (b *batcher) depth() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.items)
}

// reserve takes n places in the queue for sequences still to be
// tokenized, or returns errQueueFull (errStopped) at once: a request learns
// that it will be refused before it spends any work. A request larger than
// the whole queue is still taken when the queue is empty. The places are
// filled by submitReserved or given back by unreserve.
func (b *batcher) reserve(n int) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return errStopped
	}
	if q := len(b.items) + b.reserved; q > 0 && q+n > b.maxQueue {
		return errQueueFull
	}
	b.reserved += n
	return nil
}

func (b *batcher) unreserve(n int) {
	b.mu.Lock()
	b.reserved -= n
	b.mu.Unlock()
}

// submit reserves places for a job's sequences and queues them.
func (b *batcher) submit(j *job) error {
	if err := b.reserve(len(j.encs)); err != nil {
		return err
	}
	return b.submitReserved(j)
}

// submitReserved queues a job's sequences into places taken by reserve.
func (b *batcher) submitReserved(j *job) error {
	j.enqueued = time.Now()
	b.mu.Lock()
	b.reserved -= len(j.encs)
	if b.stopped {
		b.mu.Unlock()
		return errStopped
	}
	for i, e := range j.encs {
		b.items = append(b.items, item{j: j, i: i, n: len(e.IDs)})
	}
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
	return nil
}

// run is the batcher goroutine; it returns after close.
func (b *batcher) run() {
	defer close(b.exited)
	var timer *time.Timer
	for {
		// A stop is honoured between batches even with sequences queued:
		// they fail (503) instead of holding the shutdown up.
		select {
		case <-b.stop:
			b.fail(errStopped)
			return
		default:
		}
		batch, wait := b.take()
		if len(batch) > 0 {
			b.execute(batch)
			b.mu.Lock()
			b.running = nil
			b.mu.Unlock()
			continue
		}
		var tc <-chan time.Time
		if wait > 0 {
			if timer == nil {
				timer = time.NewTimer(wait)
			} else {
				timer.Reset(wait)
			}
			tc = timer.C
		}
		select {
		case <-b.wake:
		case <-tc:
		case <-b.stop:
			b.fail(errStopped)
			return
		}
	}
}

// flushNow makes the batcher stop waiting for batches to fill (drain).
func (b *batcher) flushNow() {
	b.noWait.Store(true)
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// close stops the batcher after the batch in progress; jobs still queued
// fail with errStopped. It waits for the goroutine to exit.
func (b *batcher) close() {
	b.mu.Lock()
	if !b.stopped {
		b.stopped = true
		close(b.stop)
	}
	b.mu.Unlock()
	<-b.exited
}

// abort stops the batcher and fails every job still waiting, queued or in
// the batch in progress, without waiting for that batch to end: the end of
// the shutdown grace is a hard bound, and one engine call can take longer
// than the time left.
func (b *batcher) abort(err error) {
	b.mu.Lock()
	if !b.stopped {
		b.stopped = true
		close(b.stop)
	}
	items := append(b.items, b.running...)
	b.items = nil
	b.mu.Unlock()
	for _, it := range items {
		b.finish(it.j, err)
	}
}

func (b *batcher) fail(err error) {
	b.mu.Lock()
	items := b.items
	b.items = nil
	b.mu.Unlock()
	for _, it := range items {
		b.finish(it.j, err)
	}
}

// finish completes a job with an error (once).
func (b *batcher) finish(j *job, err error) {
	if j.closed.Swap(true) {
		return
	}
	j.err = err
	close(j.done)
}

// take picks the next batch. With nothing runnable it returns how long to
// wait before trying again (0: until woken).
func (b *batcher) take() ([]item, time.Duration) {
	b.round++
	b.checkClients()
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()

	// Drop sequences nobody waits for any more: the handler gave up, the
	// deadline passed, or the client closed its connection (checkClients).
	w := 0
	var skipped int
	for _, it := range b.items {
		j := it.j
		if j.closed.Load() || j.cancelled.Load() || now.After(j.deadline) {
			skipped++
			continue
		}
		b.items[w] = it
		w++
	}
	clear(b.items[w:])
	b.items = b.items[:w]
	if skipped > 0 {
		b.metrics.skipped.Add(skipped)
	}
	if len(b.items) == 0 {
		return nil, 0
	}
	if b.maxWait > 0 && len(b.items) < b.maxSize && !b.noWait.Load() {
		if until := b.items[0].j.enqueued.Add(b.maxWait); now.Before(until) {
			return nil, until.Sub(now)
		}
	}

	// The oldest sequence always goes; then the others of the window in
	// order of length distance to it, while the limits allow.
	anchor := b.items[0]
	win := min(len(b.items), b.window)
	cand := make([]int, 0, win)
	for k := 1; k < win; k++ {
		if b.items[k].j.m == anchor.j.m {
			cand = append(cand, k)
		}
	}
	dist := func(k int) int {
		d := b.items[k].n - anchor.n
		if d < 0 {
			return -d
		}
		return d
	}
	slices.SortStableFunc(cand, func(x, y int) int { return dist(x) - dist(y) })
	picked := make([]bool, win)
	picked[0] = true
	batch := []item{anchor}
	longest := anchor.n
	for _, k := range cand {
		if len(batch) >= b.maxSize {
			break
		}
		l := max(longest, b.items[k].n)
		if (len(batch)+1)*l > b.maxTokens {
			continue
		}
		longest = l
		picked[k] = true
		batch = append(batch, b.items[k])
	}
	w = 0
	for k, it := range b.items {
		if k < win && picked[k] {
			continue
		}
		b.items[w] = it
		w++
	}
	clear(b.items[w:])
	b.items = b.items[:w]
	// The engine call holds its own reference on the model: the handlers
	// that hold one may give up (timeout) while it runs. When none is left
	// (every job gave up since the sweep above) the model may be closed,
	// and the batch is dropped.
	if m := anchor.j.m; m != nil && !m.acquire() {
		b.metrics.skipped.Add(len(batch))
		return nil, time.Millisecond // then look at the rest of the queue
	}
	b.running = batch
	return batch, 0
}

// checkClients finishes, with errClientGone, the jobs of the window (the
// sequences that could be in the next batch) whose client has closed its
// connection, each job checked once per round. The check is a system call
// per job, so the jobs are collected under the queue lock and checked
// after it is released: submit never waits behind them.
func (b *batcher) checkClients() {
	b.mu.Lock()
	var jobs []*job
	for k := 0; k < len(b.items) && k < b.window; k++ {
		j := b.items[k].j
		if j.conn != nil && !j.closed.Load() && j.checked != b.round {
			j.checked = b.round
			jobs = append(jobs, j)
		}
	}
	b.mu.Unlock()
	for _, j := range jobs {
		if connClosed(j.conn) {
			b.finish(j, errClientGone)
			b.metrics.clientGone.Inc()
		}
	}
}

// execute runs one batch on the engine and hands out the predictions.
func (b *batcher) execute(batch []item) {
	start := time.Now()
	encs := make([]tokenize.Encoding, len(batch))
	longest := 0
	for k, it := range batch {
		encs[k] = it.j.encs[it.i]
		longest = max(longest, it.n)
		b.metrics.queueWait.Update(start.Sub(it.j.enqueued).Seconds())
	}
	m := batch[0].j.m
	preds, err := b.safePredict(m, encs)
	if m != nil {
		m.release()
	}
	b.metrics.inference.UpdateDuration(start)
	b.metrics.batchSize.Update(float64(len(batch)))
	b.metrics.batchTokens.Update(float64(len(batch) * longest))
	b.metrics.batches.Inc()
	if err == nil && len(preds) != len(batch) {
		err = fmt.Errorf("engine returned %d predictions for %d sequences", len(preds), len(batch))
	}
	for k, it := range batch {
		j := it.j
		if j.closed.Load() {
			continue
		}
		if err != nil {
			b.finish(j, err)
			continue
		}
		j.preds[it.i] = preds[k]
		if j.remaining--; j.remaining == 0 {
			if !j.closed.Swap(true) {
				close(j.done)
			}
		}
	}
}

// safePredict calls the engine, turning a panic into an error: a panic in
// this goroutine would take the whole process down.
func (b *batcher) safePredict(m *model, encs []tokenize.Encoding) (preds []distilbert.Prediction, err error) {
	defer func() {
		if r := recover(); r != nil {
			b.metrics.panics.Inc()
			b.log.Error("panic in the engine", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			preds, err = nil, fmt.Errorf("engine panic: %v", r)
		}
	}()
	return b.predict(context.Background(), m, encs)
}
