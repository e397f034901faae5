//go:build !noengine

package main

import (
	"context"
	"runtime"
	"time"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/distilbert/tokenize"
)

// engineRun measures PredictEncoded alone on the same texts, in batches of
// o.engineBatch, closed loop, for o.duration.
func engineRun(o *options, texts []string) (Result, error) {
	var c *distilbert.Classifier
	var err error
	if o.model == "" {
		c, err = distilbert.LoadEmbedded()
	} else {
		c, err = distilbert.Load(o.model)
	}
	if err != nil {
		return Result{}, err
	}
	defer c.Close()
	encs := make([]tokenize.Encoding, len(texts))
	for i, t := range texts {
		encs[i] = c.Encode(t)
	}
	batch := make([]tokenize.Encoding, o.engineBatch)
	fill := func(k int) {
		for j := range batch {
			batch[j] = encs[(k+j)%len(encs)]
		}
	}
	ctx := context.Background()
	for k := 0; time.Duration(k)*50*time.Millisecond < o.warmup && k < 100; k++ {
		fill(k)
		c.PredictEncoded(ctx, batch)
	}
	var samples []sample
	t0 := time.Now()
	for k := 0; time.Since(t0) < o.duration; k++ {
		fill(k * o.engineBatch)
		s := time.Now()
		if _, err := c.PredictEncoded(ctx, batch); err != nil {
			return Result{}, err
		}
		samples = append(samples, sample{lat: time.Since(s)})
	}
	r := summarize(samples, time.Since(t0))
	r.Mode, r.MeanBatch = "engine", float64(o.engineBatch)
	r.TextsPerS = round(r.ReqPerS*float64(o.engineBatch), 1)
	r.Concurrency = runtime.GOMAXPROCS(0)
	return r, nil
}
