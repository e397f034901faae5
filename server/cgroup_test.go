package server

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/VictoriaMetrics/metrics"
)

// fakeTree writes files (path → content) under a temporary root.
func fakeTree(t *testing.T, files map[string]string) cgroupFS {
	t.Helper()
	root := t.TempDir()
	for p, content := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return cgroupFS{root: root}
}

const (
	meminfo      = "MemTotal:        4194304 kB\nMemFree:          1048576 kB\n"
	v2Mount      = "30 22 0:27 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
	v1MemoryMnt  = "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
	v1CPUMount   = "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	hybridUnifed = "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
)

func TestCgroupLimits(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name        string
		files       map[string]string
		mem, cpuLim float64 // NaN: no series
	}{{
		name: "v2 in its own namespace",
		files: map[string]string{
			"/proc/self/cgroup":         "0::/\n",
			"/proc/self/mountinfo":      v2Mount,
			"/sys/fs/cgroup/memory.max": "536870912\n",
			"/sys/fs/cgroup/cpu.max":    "150000 100000\n",
		},
		mem: 536870912, cpuLim: 1.5,
	}, {
		name: "v2 nested: the parent's limits bind",
		files: map[string]string{
			"/proc/self/cgroup":                           "0::/kubepods/pod1/ctr\n",
			"/proc/self/mountinfo":                        v2Mount,
			"/sys/fs/cgroup/kubepods/pod1/ctr/memory.max": "max\n",
			"/sys/fs/cgroup/kubepods/pod1/ctr/cpu.max":    "max 100000\n",
			"/sys/fs/cgroup/kubepods/pod1/memory.max":     "1073741824\n",
			"/sys/fs/cgroup/kubepods/pod1/cpu.max":        "50000 100000\n",
			"/sys/fs/cgroup/kubepods/memory.max":          "2147483648\n",
		},
		mem: 1073741824, cpuLim: 0.5,
	}, {
		name: "v2 without limits",
		files: map[string]string{
			"/proc/self/cgroup":         "0::/\n",
			"/proc/self/mountinfo":      v2Mount,
			"/proc/meminfo":             meminfo,
			"/sys/fs/cgroup/memory.max": "max\n",
			"/sys/fs/cgroup/cpu.max":    "max 100000\n",
		},
		mem: 4 << 30, cpuLim: 4,
	}, {
		name: "v1",
		files: map[string]string{
			"/proc/self/cgroup":    "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n",
			"/proc/self/mountinfo": v1MemoryMnt + v1CPUMount,
			"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes":  "268435456\n",
			"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us":  "900000\n",
			"/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us": "100000\n",
		},
		mem: 268435456, cpuLim: 4, // a quota above the CPUs does not count
	}, {
		name: "v1 seen from inside a container: the mount is the cgroup",
		files: map[string]string{
			"/proc/self/cgroup":                            "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n",
			"/proc/self/mountinfo":                         strings.Replace(v1MemoryMnt, " / ", " /docker/abc ", 1) + strings.Replace(v1CPUMount, " / ", " /docker/abc ", 1),
			"/sys/fs/cgroup/memory/memory.limit_in_bytes":  "268435456\n",
			"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us":  "-1\n",
			"/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us": "100000\n",
		},
		mem: 268435456, cpuLim: 4,
	}, {
		name: "v1 unlimited, hybrid with an empty unified hierarchy",
		files: map[string]string{
			"/proc/self/cgroup":    "4:memory:/x\n0::/\n",
			"/proc/self/mountinfo": v1MemoryMnt + hybridUnifed,
			"/proc/meminfo":        meminfo,
			"/sys/fs/cgroup/memory/x/memory.limit_in_bytes": "9223372036854771712\n",
		},
		mem: 4 << 30, cpuLim: 4,
	}, {
		name:  "no cgroup files: the machine's memory and CPUs",
		files: map[string]string{"/proc/meminfo": meminfo},
		mem:   4 << 30, cpuLim: 4,
	}, {
		name:  "nothing readable",
		files: map[string]string{"/etc/hostname": "x\n"},
		mem:   nan, cpuLim: 4,
	}, {
		name: "garbage",
		files: map[string]string{
			"/proc/self/cgroup":         "::::\n0::\n\x00",
			"/proc/self/mountinfo":      "- - -\n1 2 3\n30 22 0:27 / /sys/fs/cgroup - cgroup2\n",
			"/sys/fs/cgroup/memory.max": "-5\n",
			"/sys/fs/cgroup/cpu.max":    "0 0\n",
			"/proc/meminfo":             "MemTotal: lots\n",
		},
		mem: nan, cpuLim: 4,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			fs := fakeTree(t, tc.files)
			s := metrics.NewSet()
			registerLimitGauges(s, fs, 4)
			var b strings.Builder
			s.WritePrometheus(&b)
			got := b.String()
			for name, want := range map[string]float64{
				"distilbert_memory_limit_bytes": tc.mem,
				"distilbert_cpu_limit_cores":    tc.cpuLim,
			} {
				var line string
				for _, l := range strings.Split(got, "\n") {
					if strings.HasPrefix(l, name+" ") {
						line = l
					}
				}
				switch {
				case math.IsNaN(want) && line != "":
					t.Errorf("%s: got %q, want no series", name, line)
				case !math.IsNaN(want) && line != name+" "+formatFloat(want):
					t.Errorf("%s: got %q, want %v", name, line, want)
				}
			}
		})
	}
}

func formatFloat(v float64) string {
	var b strings.Builder
	s := metrics.NewSet()
	s.NewGauge("x", func() float64 { return v })
	s.WritePrometheus(&b)
	return strings.TrimSpace(strings.TrimPrefix(b.String(), "x "))
}

func TestUnescapeMount(t *testing.T) {
	for in, want := range map[string]string{
		`/sys/fs/cgroup`:     "/sys/fs/cgroup",
		`/mnt/with\040space`: "/mnt/with space",
		`/bad\04`:            `/bad\04`,
		`/trailing\`:         `/trailing\`,
		`/not\999octal`:      `/not\999octal`,
	} {
		if got := unescapeMount(in); got != want {
			t.Errorf("unescapeMount(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzCgroupFiles feeds arbitrary /proc and cgroup file contents to the
// limit gauges: no panic, and a limit is never negative.
func FuzzCgroupFiles(f *testing.F) {
	f.Add("0::/kubepods/pod1\n", v2Mount, "536870912\n", "150000 100000\n", "MemTotal: 4194304 kB\n")
	f.Add("4:memory:/x\n2:cpu,cpuacct:/x\n", v1MemoryMnt+v1CPUMount, "max\n", "max 100000\n", "MemTotal: 1 kB\n")
	f.Add("::::", "- - -\n30 22 0:27 /a /sys/fs/cgroup\\04 x - cgroup2 c rw", "-1", "0 0", "MemTotal:")
	f.Fuzz(func(t *testing.T, cgroup, mountinfo, memMax, cpuMax, meminfo string) {
		root := t.TempDir()
		files := map[string]string{
			"proc/self/cgroup": cgroup, "proc/self/mountinfo": mountinfo, "proc/meminfo": meminfo,
			"sys/fs/cgroup/memory.max": memMax, "sys/fs/cgroup/cpu.max": cpuMax,
			"sys/fs/cgroup/kubepods/pod1/memory.max": memMax, "sys/fs/cgroup/kubepods/pod1/cpu.max": cpuMax,
		}
		for p, content := range files {
			full := filepath.Join(root, p)
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		s := metrics.NewSet()
		registerLimitGauges(s, cgroupFS{root: root}, 2)
		var b strings.Builder
		s.WritePrometheus(&b)
		for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			if strings.Contains(line, " -") {
				t.Errorf("negative limit: %q", line)
			}
		}
	})
}
