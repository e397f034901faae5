package hub

import (
	"fmt"
	"strings"
	"time"

	"github.com/distilbert-go/distilbert/weights"
)

// say prints one line of progress, if progress is wanted.
func (c *Client) say(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, format+"\n", args...)
	}
}

// progress reports one file's download: a bar redrawn in place on a
// terminal (bytes, rate, ETA), else one line when the file is done.
type progress struct {
	c      *Client
	name   string
	total  int64 // -1 unknown
	start  time.Time
	from   int64 // bytes already there when this run started (rate excludes them)
	cur    int64
	drawn  time.Time
	onLine bool // a bar is on the terminal's current line
}

func (c *Client) newProgress(name string, total, from int64) *progress {
	p := &progress{c: c, name: name, total: total, start: time.Now(), from: from, cur: from}
	if from > 0 {
		c.say("%s: resuming at %s", name, weights.FormatBytes(from))
	}
	return p
}

// redrawEvery limits terminal updates to a rate the eye can follow.
const redrawEvery = 100 * time.Millisecond

func (p *progress) set(n int64) {
	if n < p.from {
		p.from = n // restarted from zero
	}
	p.cur = n
	if p.c.Progress == nil || !p.c.Terminal {
		return
	}
	if now := time.Now(); now.Sub(p.drawn) >= redrawEvery {
		p.drawn = now
		p.draw()
	}
}

func (p *progress) rate() float64 {
	s := time.Since(p.start).Seconds()
	if s <= 0 {
		return 0
	}
	return float64(p.cur-p.from) / s
}

func (p *progress) draw() {
	const width = 24
	rate := p.rate()
	var line string
	if p.total > 0 {
		frac := min(float64(p.cur)/float64(p.total), 1)
		filled := int(frac * width)
		eta := "--"
		if rate > 0 {
			eta = time.Duration(float64(p.total-p.cur) / rate * float64(time.Second)).Round(time.Second).String()
		}
		line = fmt.Sprintf("%-24.24s %3.0f%% [%s%s] %s / %s  %s/s  ETA %s", p.name, frac*100,
			strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			weights.FormatBytes(p.cur), weights.FormatBytes(p.total), weights.FormatBytes(int64(rate)), eta)
	} else {
		line = fmt.Sprintf("%-24.24s %s  %s/s", p.name, weights.FormatBytes(p.cur), weights.FormatBytes(int64(rate)))
	}
	fmt.Fprintf(p.c.Progress, "\r%s\x1b[K", line)
	p.onLine = true
}

func (p *progress) endLine() {
	if p.onLine {
		fmt.Fprint(p.c.Progress, "\n")
		p.onLine = false
	}
}

func (p *progress) retry(err error) {
	if p.c.Progress == nil {
		return
	}
	p.endLine()
	p.c.say("%s: %v; retrying from %s", p.name, err, weights.FormatBytes(p.cur))
}

func (p *progress) abort() {
	if p.c.Progress != nil {
		p.endLine()
	}
}

func (p *progress) done() {
	if p.c.Progress == nil {
		return
	}
	if p.c.Terminal {
		p.draw()
		p.endLine()
		return
	}
	d := time.Since(p.start)
	p.c.say("%s: %s downloaded in %.1fs (%s/s)", p.name, weights.FormatBytes(p.cur-p.from), d.Seconds(), weights.FormatBytes(int64(p.rate())))
}
