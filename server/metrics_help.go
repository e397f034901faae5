package server

import (
	"bytes"
	"io"
)

// metricFamily is the metadata /metrics writes before a family's samples.
type metricFamily struct {
	typ  string // counter, gauge, histogram, summary
	help string
}

// metricFamilies holds the HELP text and TYPE of every family /metrics
// exposes: VictoriaMetrics/metrics writes no help text of its own, and
// `promtool check metrics` rejects a family without it. A test fails when a
// family is missing here.
var metricFamilies = map[string]metricFamily{
	// The service.
	"distilbert_build_info":                     {"gauge", "Always 1; the labels name the model, device, kernel path, precision and version serving."},
	"distilbert_model_reloads_total":            {"counter", "Hot reloads of the model (SIGHUP, POST /admin/reload), by result; a failure keeps the loaded model serving."},
	"distilbert_model_loaded_timestamp_seconds": {"gauge", "Unix time at which the model serving was loaded (at start or by the last reload)."},
	"distilbert_device_memory_bytes":            {"gauge", "Memory of the accelerator the model runs on (0 on the CPU)."},
	"distilbert_connections_open":               {"gauge", "TCP connections open now."},
	"distilbert_connections_refused_total":      {"counter", "Connections closed at accept because a total or per-client cap was reached."},
	"distilbert_accept_errors_total":            {"counter", "Accept errors retried with backoff (e.g. out of file descriptors)."},
	"distilbert_inflight_body_bytes":            {"gauge", "Request body bytes admitted into the byte budget and not yet released."},
	"distilbert_cache_redis_hits_total":         {"counter", "Texts answered from the shared Redis cache."},
	"distilbert_cache_redis_misses_total":       {"counter", "Texts looked up in the shared Redis cache and not found."},
	"distilbert_cache_redis_errors_total":       {"counter", "Redis lookups or writes that failed or passed their time budget (answered from the model)."},
	"distilbert_ready":                          {"gauge", "1 when /readyz answers 200 (warmed up and not draining), else 0."},
	"distilbert_http_requests_total":            {"counter", "HTTP requests answered, by route and status code."},
	"distilbert_http_request_duration_seconds":  {"histogram", "Time from reading a request to writing its answer, by route."},
	"distilbert_inflight_requests":              {"gauge", "HTTP requests being handled now."},
	"distilbert_queue_depth":                    {"gauge", "Sequences waiting for a batch; at --max-queue new requests get 503."},
	"distilbert_queue_wait_seconds":             {"histogram", "Time a sequence waited from enqueue to the start of its batch."},
	"distilbert_inference_duration_seconds":     {"histogram", "Time of one engine call (one batch)."},
	"distilbert_batch_size":                     {"histogram", "Sequences per engine call."},
	"distilbert_batch_tokens":                   {"histogram", "Padded tokens (sequences x longest) per engine call."},
	"distilbert_batches_total":                  {"counter", "Engine calls (batches) run."},
	"distilbert_texts_total":                    {"counter", "Texts received for prediction, cached or not."},
	"distilbert_predictions_total":              {"counter", "Predictions answered, by predicted label."},
	"distilbert_skipped_sequences_total":        {"counter", "Queued sequences dropped before inference: deadline passed or client gone."},
	"distilbert_client_gone_total":              {"counter", "Requests whose client disconnected before the answer."},
	"distilbert_queue_full_total":               {"counter", "Requests refused with 503 because the queue was full."},
	"distilbert_timeouts_total":                 {"counter", "Requests that passed --request-timeout (504)."},
	"distilbert_panics_total":                   {"counter", "Panics recovered while handling a request (500)."},
	"distilbert_cache_hits_total":               {"counter", "Texts answered from the response cache."},
	"distilbert_cache_misses_total":             {"counter", "Texts looked up in the response cache and not found."},
	"distilbert_cache_entries":                  {"gauge", "Entries in the response cache."},
	"distilbert_queue_capacity":                 {"gauge", "Most sequences the queue holds (--max-queue)."},
	"distilbert_memory_limit_bytes":             {"gauge", "Memory the process may use: its cgroup's limit (v2 memory.max, v1 memory.limit_in_bytes), at most the machine's memory."},
	"distilbert_cpu_limit_cores":                {"gauge", "CPUs the process may use: its cgroup's quota / period, at most the CPUs it may run on."},

	// The Go runtime (VictoriaMetrics/metrics WriteProcessMetrics).
	"go_info":                             {"gauge", "Always 1; the label is the Go version the binary was built with."},
	"go_info_ext":                         {"gauge", "Always 1; the labels are the compiler, GOOS, GOARCH and GOROOT of the build."},
	"go_cpus":                             {"gauge", "Logical CPUs the process may run on (runtime.NumCPU)."},
	"go_gomaxprocs":                       {"gauge", "GOMAXPROCS: threads that may run Go code at once."},
	"go_goroutines":                       {"gauge", "Goroutines that exist now."},
	"go_threads":                          {"gauge", "OS threads created by the Go runtime."},
	"go_memlimit_bytes":                   {"gauge", "The Go runtime's soft memory limit (GOMEMLIMIT); math.MaxInt64 when unset."},
	"go_gc_duration_seconds":              {"summary", "Stop-the-world pause durations of garbage collections."},
	"go_gc_forced_total":                  {"counter", "Garbage collections forced by the application (runtime.GC)."},
	"go_gc_cpu_seconds_total":             {"counter", "CPU time spent by the garbage collector."},
	"go_gc_mark_assist_cpu_seconds_total": {"counter", "CPU time goroutines spent assisting the garbage collector's marking."},
	"go_gc_pauses_seconds":                {"histogram", "Stop-the-world garbage collection pauses."},
	"go_sched_latencies_seconds":          {"histogram", "Time goroutines spent runnable before running."},
	"go_mutex_wait_seconds_total":         {"counter", "Time goroutines spent blocked on sync.Mutex and sync.RWMutex."},
	"go_scavenge_cpu_seconds_total":       {"counter", "CPU time spent returning unused memory to the OS."},
	"go_memstats_alloc_bytes":             {"gauge", "Bytes of allocated heap objects."},
	"go_memstats_alloc_bytes_total":       {"counter", "Bytes allocated for heap objects, ever."},
	"go_memstats_buck_hash_sys_bytes":     {"gauge", "Bytes of memory in profiling bucket hash tables."},
	"go_memstats_frees_total":             {"counter", "Heap objects freed, ever."},
	"go_memstats_gc_cpu_fraction":         {"gauge", "Fraction of CPU time used by the garbage collector since the program started."},
	"go_memstats_gc_sys_bytes":            {"gauge", "Bytes of memory in garbage collection metadata."},
	"go_memstats_heap_alloc_bytes":        {"gauge", "Bytes of allocated heap objects."},
	"go_memstats_heap_idle_bytes":         {"gauge", "Bytes in idle (unused) heap spans."},
	"go_memstats_heap_inuse_bytes":        {"gauge", "Bytes in in-use heap spans."},
	"go_memstats_heap_objects":            {"gauge", "Allocated heap objects."},
	"go_memstats_heap_released_bytes":     {"gauge", "Bytes of physical memory returned to the OS."},
	"go_memstats_heap_sys_bytes":          {"gauge", "Bytes of heap memory obtained from the OS."},
	"go_memstats_last_gc_time_seconds":    {"gauge", "Unix time the last garbage collection finished."},
	"go_memstats_lookups_total":           {"counter", "Pointer lookups performed by the runtime, ever."},
	"go_memstats_mallocs_total":           {"counter", "Heap objects allocated, ever."},
	"go_memstats_mcache_inuse_bytes":      {"gauge", "Bytes of allocated mcache structures."},
	"go_memstats_mcache_sys_bytes":        {"gauge", "Bytes of memory obtained from the OS for mcache structures."},
	"go_memstats_mspan_inuse_bytes":       {"gauge", "Bytes of allocated mspan structures."},
	"go_memstats_mspan_sys_bytes":         {"gauge", "Bytes of memory obtained from the OS for mspan structures."},
	"go_memstats_next_gc_bytes":           {"gauge", "Heap size at which the next garbage collection starts."},
	"go_memstats_other_sys_bytes":         {"gauge", "Bytes of memory in miscellaneous off-heap runtime allocations."},
	"go_memstats_stack_inuse_bytes":       {"gauge", "Bytes in stack spans."},
	"go_memstats_stack_sys_bytes":         {"gauge", "Bytes of stack memory obtained from the OS."},
	"go_memstats_sys_bytes":               {"gauge", "Bytes of memory obtained from the OS in total."},

	// The process (Linux /proc, cgroup and PSI files).
	"process_cpu_seconds_total":                     {"counter", "CPU time of the process, user and system."},
	"process_cpu_seconds_user_total":                {"counter", "CPU time of the process in user mode."},
	"process_cpu_seconds_system_total":              {"counter", "CPU time of the process in kernel mode."},
	"process_cgroup_cpu_throttled_seconds_total":    {"counter", "Time the process's cgroup was throttled by its CPU quota since the start."},
	"process_major_pagefaults_total":                {"counter", "Page faults that needed a disk read."},
	"process_minor_pagefaults_total":                {"counter", "Page faults served without a disk read."},
	"process_num_threads":                           {"gauge", "OS threads of the process."},
	"process_resident_memory_bytes":                 {"gauge", "Resident set size of the process (RSS)."},
	"process_resident_memory_peak_bytes":            {"gauge", "Highest resident set size of the process."},
	"process_resident_memory_anon_bytes":            {"gauge", "Resident anonymous memory (heap, stacks)."},
	"process_resident_memory_file_bytes":            {"gauge", "Resident file-backed memory (the binary, mapped files)."},
	"process_resident_memory_shared_bytes":          {"gauge", "Resident shared memory."},
	"process_virtual_memory_bytes":                  {"gauge", "Virtual memory size of the process."},
	"process_virtual_memory_peak_bytes":             {"gauge", "Highest virtual memory size of the process."},
	"process_start_time_seconds":                    {"gauge", "Unix time the process started."},
	"process_io_read_bytes_total":                   {"counter", "Bytes the process read, from any source."},
	"process_io_written_bytes_total":                {"counter", "Bytes the process wrote, to any destination."},
	"process_io_read_syscalls_total":                {"counter", "Read system calls of the process."},
	"process_io_write_syscalls_total":               {"counter", "Write system calls of the process."},
	"process_io_storage_read_bytes_total":           {"counter", "Bytes the process read from storage."},
	"process_io_storage_written_bytes_total":        {"counter", "Bytes the process wrote to storage."},
	"process_pressure_cpu_waiting_seconds_total":    {"counter", "Time some of the cgroup's tasks waited for CPU (PSI some)."},
	"process_pressure_cpu_stalled_seconds_total":    {"counter", "Time all of the cgroup's tasks waited for CPU (PSI full)."},
	"process_pressure_io_waiting_seconds_total":     {"counter", "Time some of the cgroup's tasks waited for I/O (PSI some)."},
	"process_pressure_io_stalled_seconds_total":     {"counter", "Time all of the cgroup's tasks waited for I/O (PSI full)."},
	"process_pressure_memory_waiting_seconds_total": {"counter", "Time some of the cgroup's tasks waited for memory (PSI some)."},
	"process_pressure_memory_stalled_seconds_total": {"counter", "Time all of the cgroup's tasks waited for memory (PSI full)."},
}

// renamedFamilies maps names VictoriaMetrics/metrics writes that break the
// Prometheus naming rules (_count is reserved for histograms and summaries)
// to conforming ones.
var renamedFamilies = map[string]string{
	"go_gc_forced_count": "go_gc_forced_total",
	"go_cpu_count":       "go_cpus",
}

// droppedFamilies are left out: the binary is built without cgo, so this
// counter is always 0, and its _count suffix breaks the naming rules.
var droppedFamilies = map[string]bool{
	"go_cgo_calls_count": true,
}

// writeWithMetadata copies a Prometheus text exposition without metadata
// to w, adding "# HELP" and "# TYPE" before each family's first sample.
// It relies on each family's samples being adjacent, as
// VictoriaMetrics/metrics writes them. A family missing from
// metricFamilies is written as untyped with no help text.
func writeWithMetadata(w io.Writer, exposition []byte) error {
	var out bytes.Buffer
	out.Grow(len(exposition) + len(exposition)/3)
	current := ""
	for len(exposition) > 0 {
		line := exposition
		if i := bytes.IndexByte(exposition, '\n'); i >= 0 {
			line, exposition = exposition[:i], exposition[i+1:]
		} else {
			exposition = nil
		}
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		name := sampleName(line)
		if droppedFamilies[name] {
			continue
		}
		if to, ok := renamedFamilies[name]; ok {
			line = append([]byte(to), line[len(name):]...)
			name = to
		}
		family, meta := familyOf(name)
		if family != current {
			current = family
			if meta.typ == "" {
				out.WriteString("# TYPE " + family + " untyped\n")
			} else {
				out.WriteString("# HELP " + family + " " + meta.help + "\n")
				out.WriteString("# TYPE " + family + " " + meta.typ + "\n")
			}
		}
		out.Write(line)
		out.WriteByte('\n')
	}
	_, err := w.Write(out.Bytes())
	return err
}

// sampleName is the metric name at the start of a sample line.
func sampleName(line []byte) string {
	end := bytes.IndexAny(line, "{ ")
	if end < 0 {
		end = len(line)
	}
	return string(line[:end])
}

// familyOf finds the family of a sample name: the name itself, or for
// histogram and summary series the name less _bucket, _sum or _count.
func familyOf(name string) (string, metricFamily) {
	if f, ok := metricFamilies[name]; ok {
		return name, f
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if len(name) > len(suffix) && name[len(name)-len(suffix):] == suffix {
			base := name[:len(name)-len(suffix)]
			if f, ok := metricFamilies[base]; ok && (f.typ == "histogram" || f.typ == "summary") {
				if suffix == "_bucket" && f.typ != "histogram" {
					break
				}
				return base, f
			}
		}
	}
	return name, metricFamily{}
}
