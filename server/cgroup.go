package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/VictoriaMetrics/metrics"
)

// cgroupFS reads the files that describe the process's cgroup and machine. root is
// prepended to every absolute path ("" on a real host; a test's fake tree).
type cgroupFS struct{ root string }

// cgroupFileLimit caps each read: these files are a few lines long, and a
// test or odd mount must not make a scrape read without bound.
const cgroupFileLimit = 1 << 20

func (c cgroupFS) read(p string) ([]byte, error) {
	f, err := os.Open(c.root + p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, cgroupFileLimit+1))
	if err == nil && len(b) > cgroupFileLimit {
		err = fmt.Errorf("%s: longer than %d bytes", p, cgroupFileLimit)
	}
	return b, err
}

// cgroupDirs are the directories of the process's cgroup: the v2 one, or
// the v1 memory and cpu controllers' ones; empty when not found.
type cgroupDirs struct {
	v2, memory, cpu string // each with its mount point, under root
	// v2Top is the v2 mount point: limits are looked up from v2 up to it,
	// since an ancestor's limit binds too.
	v2Top string
}

// findCgroups locates the process's cgroup directories from
// /proc/self/cgroup and /proc/self/mountinfo.
func (c cgroupFS) findCgroups() cgroupDirs {
	var d cgroupDirs
	cg, err := c.read("/proc/self/cgroup")
	if err != nil {
		return d
	}
	mi, err := c.read("/proc/self/mountinfo")
	if err != nil {
		return d
	}
	// "hierarchy-ID:controllers:path"; v2 is "0::path".
	paths := map[string]string{}
	for _, line := range strings.Split(string(cg), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if parts[0] == "0" && parts[1] == "" {
			paths["cgroup2"] = parts[2]
			continue
		}
		for _, ctl := range strings.Split(parts[1], ",") {
			paths[ctl] = parts[2]
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(mi))
	for sc.Scan() {
		// "id parent major:minor root mountpoint options [optional...] - fstype source superoptions"
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 5 || sep+3 >= len(fields) {
			continue
		}
		root, mountPoint, fsType := fields[3], unescapeMount(fields[4]), fields[sep+1]
		switch fsType {
		case "cgroup2":
			if p, ok := paths["cgroup2"]; ok && d.v2 == "" {
				d.v2 = underMount(mountPoint, root, p)
				d.v2Top = mountPoint
			}
		case "cgroup":
			for _, opt := range strings.Split(fields[sep+3], ",") {
				switch opt {
				case "memory":
					if p, ok := paths["memory"]; ok && d.memory == "" {
						d.memory = underMount(mountPoint, root, p)
					}
				case "cpu":
					if p, ok := paths["cpu"]; ok && d.cpu == "" {
						d.cpu = underMount(mountPoint, root, p)
					}
				}
			}
		}
	}
	return d
}

// underMount is the directory of cgroup path p on a mount of the hierarchy
// whose root is root. In a container with its own cgroup namespace, p is
// often outside the mount's root as seen from inside; the mount point is
// then the process's own cgroup.
func underMount(mountPoint, root, p string) string {
	if root == "/" {
		return path.Join(mountPoint, p)
	}
	if rel, ok := strings.CutPrefix(p, root); ok && (rel == "" || rel[0] == '/') {
		return path.Join(mountPoint, rel)
	}
	return mountPoint
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// memoryLimit is the cgroup's memory limit in bytes, the smallest along
// the v2 path up to the mount, else the v1 one; ok is false without a
// limit.
func (c cgroupFS) memoryLimit(d cgroupDirs) (float64, bool) {
	if d.v2 != "" {
		best, found := math.Inf(1), false
		c.walkUp(d, func(dir string) {
			if v, ok := c.readNumber(dir + "/memory.max"); ok && v < best {
				best, found = v, true
			}
		})
		if found {
			return best, true
		}
	}
	// v1, or hybrid: a v2 hierarchy without the memory controller.
	if d.memory != "" {
		v, ok := c.readNumber(d.memory + "/memory.limit_in_bytes")
		// v1 writes "no limit" as a page-rounded math.MaxInt64.
		if ok && v < float64(math.MaxInt64/2) {
			return v, true
		}
	}
	return 0, false
}

// cpuLimit is the cgroup's CPU quota in cores (quota / period), the
// smallest along the v2 path; ok is false without a quota.
func (c cgroupFS) cpuLimit(d cgroupDirs) (float64, bool) {
	if d.v2 != "" {
		best, found := math.Inf(1), false
		c.walkUp(d, func(dir string) {
			b, err := c.read(dir + "/cpu.max")
			if err != nil {
				return
			}
			f := strings.Fields(string(b)) // "max 100000" or "200000 100000"
			if len(f) != 2 || f[0] == "max" {
				return
			}
			quota, err1 := strconv.ParseFloat(f[0], 64)
			period, err2 := strconv.ParseFloat(f[1], 64)
			if err1 == nil && err2 == nil && quota > 0 && period > 0 && quota/period < best {
				best, found = quota/period, true
			}
		})
		if found {
			return best, true
		}
	}
	if d.cpu != "" {
		quota, ok1 := c.readNumber(d.cpu + "/cpu.cfs_quota_us") // -1: no quota
		period, ok2 := c.readNumber(d.cpu + "/cpu.cfs_period_us")
		if ok1 && ok2 && quota > 0 && period > 0 {
			return quota / period, true
		}
	}
	return 0, false
}

// walkUp calls f for the v2 cgroup directory and each parent up to the
// mount point.
func (c cgroupFS) walkUp(d cgroupDirs, f func(dir string)) {
	dir := d.v2
	for {
		f(dir)
		if dir == d.v2Top || !strings.HasPrefix(dir, d.v2Top+"/") {
			return
		}
		dir = path.Dir(dir)
	}
}

// readNumber reads a file holding one non-negative integer; "max" and
// anything else unparsable give ok false.
func (c cgroupFS) readNumber(p string) (float64, bool) {
	b, err := c.read(p)
	if err != nil {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || v < 0 {
		return 0, false
	}
	return float64(v), true
}

// machineMemory is MemTotal from /proc/meminfo, in bytes.
func (c cgroupFS) machineMemory() (float64, bool) {
	b, err := c.read("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest) // "16303448 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil || kb <= 0 || kb > math.MaxInt64/1024 {
			return 0, false
		}
		return float64(kb) * 1024, true
	}
	return 0, false
}

// registerLimitGauges adds the memory and CPU the process may use to s:
// its cgroup's limits (v2, else v1), or where there is none the machine's
// memory and the CPUs the process may run on (numCPU), so the series
// always exist and "near the limit" alerts need no cAdvisor. The files are
// read again at each scrape, since a limit can change in place. Where even
// the machine's memory cannot be read the memory gauge has no series.
func registerLimitGauges(s *metrics.Set, c cgroupFS, numCPU int) {
	d := c.findCgroups()
	memory := func() (float64, bool) {
		machine, okMachine := c.machineMemory()
		limit, okLimit := c.memoryLimit(d)
		switch {
		case okLimit && okMachine:
			return math.Min(limit, machine), true
		case okLimit:
			return limit, true
		}
		return machine, okMachine
	}
	if _, ok := memory(); ok {
		s.NewGauge("distilbert_memory_limit_bytes", func() float64 {
			v, ok := memory()
			if !ok {
				return math.NaN()
			}
			return v
		})
	}
	s.NewGauge("distilbert_cpu_limit_cores", func() float64 {
		if v, ok := c.cpuLimit(d); ok && v < float64(numCPU) {
			return v
		}
		return float64(numCPU)
	})
}
