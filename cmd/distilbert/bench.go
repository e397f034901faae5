package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/kernels"
)

// benchRow is one line of `bench --json`; the field names are a contract
// shared with tools/baseline (ONNX Runtime prints the same shape).
type benchRow struct {
	Batch        int     `json:"batch"`
	Seq          int     `json:"seq"`
	Threads      int     `json:"threads"`
	Kernels      string  `json:"kernels"`
	Quantization string  `json:"quantization"`
	P50ms        float64 `json:"p50_ms"`
	P90ms        float64 `json:"p90_ms"`
	SeqsPerS     float64 `json:"seqs_per_s"`
	GFLOPS       float64 `json:"gflops"`
	Iters        int     `json:"iters"`
	AllocsPerOp  float64 `json:"allocs_per_op"`
	RSSMiB       float64 `json:"rss_mib,omitempty"` // process resident set after the row
}

// residentMiB reads the process's resident set size (Linux; 0 elsewhere).
func residentMiB() float64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func parseInts(flagName, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, usageError{fmt.Errorf("--%s: %q is not a positive integer", flagName, f)}
		}
		out = append(out, n)
	}
	return out, nil
}

// benchIDs is the input both this command and tools/baseline feed the
// model: [CLS], then 1000+((i·7919+row·31) mod 20000) for i in 1..seq-2,
// then [SEP]. Real token ids, no padding, every row different.
func benchIDs(row, seq int) []int32 {
	ids := make([]int32, seq)
	ids[0] = 101
	for i := 1; i < seq-1; i++ {
		ids[i] = int32(1000 + (i*7919+row*31)%20000)
	}
	ids[seq-1] = 102
	return ids
}

// modelMACs counts multiply-adds of one full DistilBERT sequence: the
// linear layers, Q·Kᵀ and P·V per layer, and the head. GFLOP/s figures use
// it for every engine alike (2 flops per MAC), whatever work an engine skips.
func modelMACs(c *distilbert.Config, seq int) float64 {
	s, d, h := float64(seq), float64(c.Dim), float64(c.HiddenDim)
	perLayer := s*(4*d*d+2*d*h) + 2*s*s*d
	return float64(c.NLayers)*perLayer + d*d + d*float64(len(c.Labels))
}

func cmdBench(args []string, stdout io.Writer) error {
	fs := newFlagSet("bench")
	var model modelFlags
	model.register(fs)
	var ef engineFlags
	ef.register(fs, true)
	seqs := fs.String("seq", "16,64,128", "sequence lengths in tokens, incl. [CLS] and [SEP]")
	batches := fs.String("batch", "1", "batch sizes")
	threadList := fs.String("threads", strconv.Itoa(runtime.GOMAXPROCS(0)), "cores to use (a list runs each)")
	minTime := fs.Duration("min-time", time.Second, "measure each row at least this long")
	minIters := fs.Int("min-iters", 5, "measure each row at least this many times")
	asJSON := fs.Bool("json", false, "print one JSON object per row")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured runs to this file (go tool pprof)")
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Errorf("bench takes no arguments, got %q", rest[0])}
	}
	seqList, err := parseInts("seq", *seqs)
	if err != nil {
		return err
	}
	batchList, err := parseInts("batch", *batches)
	if err != nil {
		return err
	}
	threadsList, err := parseInts("threads", *threadList)
	if err != nil {
		return err
	}
	c, err := loadClassifier(model, ef)
	if err != nil {
		return err
	}
	defer c.Close()
	e, cfg := c.Engine(), c.Config()
	var weightBytes int64
	for _, t := range c.Tensors() {
		weightBytes += int64(t.Elements) * 4
	}
	loadRSS := residentMiB()
	for _, s := range seqList {
		if s < 2 || s > cfg.MaxPositionEmbeddings {
			return usageError{fmt.Errorf("--seq %d: must be 2..%d for this model", s, cfg.MaxPositionEmbeddings)}
		}
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var rows []benchRow
	enc := json.NewEncoder(stdout)
	for _, th := range threadsList {
		kernels.SetThreads(th)
		for _, b := range batchList {
			for _, s := range seqList {
				row, err := benchOne(e, cfg, b, s, *minTime, *minIters)
				if err != nil {
					return err
				}
				row.Threads = th
				row.RSSMiB = residentMiB()
				if *asJSON {
					if err := enc.Encode(row); err != nil {
						return err
					}
				}
				rows = append(rows, row)
			}
		}
	}
	if *asJSON {
		return nil
	}
	info := e.Info()
	fmt.Fprintf(stdout, "model %s, device %s, kernels %s, quantization %s, cpu %s\n", c.Name(), info.Device, info.Kernels, info.Quantization, kernels.CPU().Brand)
	fmt.Fprintf(stdout, "fp32 weights %.1f MiB; resident after load %.1f MiB (%.2fx)\n",
		float64(weightBytes)/(1<<20), loadRSS, loadRSS*(1<<20)/float64(weightBytes))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "batch\tseq\tthreads\tp50 ms\tp90 ms\tseqs/s\tGFLOP/s\titers\tallocs/op\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%.2f\t%.2f\t%.1f\t%.1f\t%d\t%.1f\t\n",
			r.Batch, r.Seq, r.Threads, r.P50ms, r.P90ms, r.SeqsPerS, r.GFLOPS, r.Iters, r.AllocsPerOp)
	}
	return tw.Flush()
}

const maxBenchIters = 100000

// benchOne times the engine's Forward on one batch shape: two warm-up
// runs, then at least minIters runs and minTime.
func benchOne(m distilbert.Engine, cfg *distilbert.Config, batch, seq int, minTime time.Duration, minIters int) (benchRow, error) {
	seqs := make([]distilbert.Sequence, batch)
	for i := range seqs {
		seqs[i] = distilbert.Sequence{IDs: benchIDs(i, seq)}
	}
	logits := make([]float32, batch*len(cfg.Labels))
	for i := 0; i < 2; i++ {
		if err := m.Forward(seqs, logits); err != nil {
			return benchRow{}, err
		}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	// Preallocated, so that allocs/op counts the forward pass alone.
	times := make([]time.Duration, 0, maxBenchIters)
	start := time.Now()
	for len(times) < minIters || time.Since(start) < minTime {
		t0 := time.Now()
		if err := m.Forward(seqs, logits); err != nil {
			return benchRow{}, err
		}
		times = append(times, time.Since(t0))
		if len(times) == maxBenchIters {
			break
		}
	}
	runtime.ReadMemStats(&after)
	slices.Sort(times)
	pct := func(p float64) float64 {
		return float64(times[int(p*float64(len(times)-1))].Microseconds()) / 1000
	}
	p50 := pct(0.5)
	info := m.Info()
	return benchRow{
		Batch: batch, Seq: seq, Kernels: info.Kernels, Quantization: string(info.Quantization),
		P50ms: p50, P90ms: pct(0.9),
		SeqsPerS:    float64(batch) / (p50 / 1000),
		GFLOPS:      2 * modelMACs(cfg, seq) * float64(batch) / (p50 / 1000) / 1e9,
		Iters:       len(times),
		AllocsPerOp: float64(after.Mallocs-before.Mallocs) / float64(len(times)),
	}, nil
}
