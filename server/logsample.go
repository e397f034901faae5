package server

import (
	"log/slog"
	"sync"
	"time"
)

// logSampler lets through at most perWindow log lines per window; the rest
// are counted and reported in one line when the next window begins. Under
// overload every refused request is a 5xx, and a line for each would cost
// more than the refusal itself.
type logSampler struct {
	log       *slog.Logger
	perWindow int
	window    time.Duration

	mu         sync.Mutex
	start      time.Time
	n          int
	suppressed int
}

func newLogSampler(log *slog.Logger, perWindow int, window time.Duration) *logSampler {
	return &logSampler{log: log, perWindow: perWindow, window: window}
}

// allow reports whether a line may be logged now.
func (l *logSampler) allow(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.window {
		if l.suppressed > 0 {
			l.log.Warn("5xx responses not logged one by one", "count", l.suppressed,
				"since", l.start.UTC().Format(time.RFC3339Nano))
		}
		l.start, l.n, l.suppressed = now, 0, 0
	}
	if l.n < l.perWindow {
		l.n++
		return true
	}
	l.suppressed++
	return false
}
