package kernels

import (
	"fmt"
	"strings"
	"time"
)

// Environment variables read by SettingsFromEnv.
const (
	// EnvVar forces a float32 implementation: generic, avx2, avx512, neon.
	EnvVar = "DISTILBERT_KERNELS"
	// Int8EnvVar forces an int8 micro-kernel: go, avx2, avx-vnni, avx512-vnni, neon-sdot.
	Int8EnvVar = "DISTILBERT_INT8_KERNELS"
	// SpinEnvVar turns off (0) or sets (a duration, e.g. 200us) how long
	// idle workers and waiting callers spin before they sleep.
	SpinEnvVar = "DISTILBERT_SPIN"
	// HugePagesEnvVar set to 0 leaves packed weights on ordinary pages,
	// e.g. where THP compaction stalls matter more than speed.
	HugePagesEnvVar = "DISTILBERT_HUGEPAGES"
)

// Settings choose the kernels and tune the worker pool. A program reads
// them once at start-up (from flags or SettingsFromEnv) and applies them
// with Configure; nothing in this package reads the environment.
type Settings struct {
	// Kernels names the float32 implementation ("" or "auto": the best
	// this CPU runs).
	Kernels string
	// Int8Kernels names the int8 micro-kernel ("" or "auto": the
	// implementation's preferred one that this CPU runs).
	Int8Kernels string
	// Threads is how many cores kernels use (0: GOMAXPROCS).
	Threads int
	// Spin is how long idle workers and waiting callers poll before they
	// sleep (0: never).
	Spin time.Duration
	// HugePages lays large packed weights on transparent huge pages.
	HugePages bool
}

// DefaultSettings are the settings of a process that configures nothing.
func DefaultSettings() Settings {
	return Settings{Spin: defaultSpin, HugePages: true}
}

// SettingsFromEnv returns DefaultSettings changed by the DISTILBERT_*
// variables above, read through lookup (os.LookupEnv). An invalid value is
// an error naming the variable, never a silent default.
func SettingsFromEnv(lookup func(string) (string, bool)) (Settings, error) {
	s := DefaultSettings()
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	s.Kernels, s.Int8Kernels = get(EnvVar), get(Int8EnvVar)
	var err error
	if s.Spin, err = parseSpin(get(SpinEnvVar)); err != nil {
		return s, err
	}
	if s.HugePages, err = parseHugePages(get(HugePagesEnvVar)); err != nil {
		return s, err
	}
	return s, nil
}

func parseSpin(v string) (time.Duration, error) {
	switch v = strings.TrimSpace(v); v {
	case "":
		return defaultSpin, nil
	case "0", "off", "false":
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > time.Second {
		return defaultSpin, fmt.Errorf("%s=%s: want 0/off or a duration up to 1s, e.g. 100us", SpinEnvVar, v)
	}
	return d, nil
}

func parseHugePages(v string) (bool, error) {
	switch strings.TrimSpace(v) {
	case "", "1", "on", "true":
		return true, nil
	case "0", "off", "false":
		return false, nil
	}
	return true, fmt.Errorf("%s=%s: want 0/off or 1/on", HugePagesEnvVar, v)
}

// Select returns the implementation s names (with its int8 kernel),
// without changing anything: an unknown or unsupported name is an error
// that names the variable it came from.
func (s Settings) Select() (*Impl, error) {
	im := Best()
	if s.Kernels != "" && s.Kernels != "auto" {
		var err error
		if im, err = Lookup(s.Kernels); err != nil {
			return nil, fmt.Errorf("%s=%s: %w", EnvVar, s.Kernels, err)
		}
	}
	if s.Int8Kernels != "" && s.Int8Kernels != "auto" {
		var err error
		if im, err = im.WithInt8Kernel(s.Int8Kernels); err != nil {
			return nil, fmt.Errorf("%s=%s: %w", Int8EnvVar, s.Int8Kernels, err)
		}
	}
	return im, nil
}

// Configure applies s to the process (the worker pool's threads and spin,
// huge pages for weights packed from then on) and returns the
// implementation it selects. Call it once at start-up, before loading.
func Configure(s Settings) (*Impl, error) {
	im, err := s.Select()
	if err != nil {
		return nil, err
	}
	if s.Spin < 0 || s.Spin > time.Second {
		return nil, fmt.Errorf("kernels: spin %v outside 0…1s", s.Spin)
	}
	if s.Threads > 0 {
		SetThreads(s.Threads)
	}
	spinFor.Store(int64(s.Spin))
	useHugePages.Store(s.HugePages)
	return im, nil
}
