#!/usr/bin/env bash
# The CPU measurements of issue 3 on a machine with no Go and no network
# (e.g. a lent GPU box whose host CPU has AVX-512), from prebuilt static
# binaries, next to Python's onnxruntime and torch (for the ONNX export):
#
#   tools/baseline/offline.sh BINDIR OUTDIR
#
# BINDIR holds distilbert, distilbert.test (both may be built with
# -tags nodefaultmodel), kernels.test and genmodel, or their .xz. It runs,
# one at a time: every kernel and model test on this CPU (each kernel path it
# has), the FMA peak and GEMM-vs-peak benchmarks, the blocking sweep, then
# `distilbert bench` per kernel path and ort_bench.py on the same random
# DistilBERT-base, alternating, ROUNDS (default 2) times. One- and
# two-thread rows are pinned to distinct physical cores, both engines alike.
# Environment: KERNELS (paths to bench, default avx512 avx2 where the CPU
# has them), SPINS (DISTILBERT_SPIN values to bench each path with, e.g.
# "100us 0"; default: the built-in), SWEEP=0 skips the blocking sweep
# (else it is the -test.bench pattern, default Blocking),
# PROFILE=1 writes CPU profiles of the first path (batch 1×16, 1×64 and
# 32×64 on two threads, 1×64 on one) as prof-*.pprof. QUANTIZE=int8 also benches each path
# quantized (kernels field K/int8; avx512 runs its VNNI int8 kernel where
# the CPU has it), runs BenchmarkLinearInt8, and benches ONNX Runtime's
# dynamic int8 (quantize_onnx.py) beside them (rows with quantization int8).
# On a CPU with AVX-512, ORT also runs with AVX-512 hidden (avx2only.so from
# BINDIR, rows tagged onnxruntime/avx2), the rival of our avx2 rows.
set -u
bin=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
model=${MODEL_DIR:-/tmp/distilbert-base-random}
rounds=${ROUNDS:-2}
py=${PYTHON:-python3}
log() { echo "offline.sh $(date +%T): $*" | tee -a "$out/log.txt" >&2; }

. "$root/tools/baseline/unpack.sh"
PYTHON=$py unpack_bins "$bin"

{ nproc; lscpu; lscpu -e; grep -m1 '^flags' /proc/cpuinfo; } >"$out/cpu.txt" 2>&1
# Two logical CPUs on different physical cores, so 2 threads never share one.
pin=$(lscpu -p=CPU,CORE 2>/dev/null | grep -v '^#' | sort -t, -k2,2n -u | head -2 | cut -d, -f1 | paste -sd,)
pin1=${pin%%,*}
log "pinning 1-thread runs to CPU $pin1, 2-thread runs to CPUs $pin"

[ -f "$model/model.safetensors" ] || "$bin/genmodel" --out "$model" >>"$out/log.txt" 2>&1
if [ ! -f "$model/model.onnx" ]; then
	"$py" "$root/tools/baseline/export_onnx.py" --model "$model" --out "$model/model.onnx" >>"$out/log.txt" 2>&1 &
	export_pid=$!
fi

log "tests"
(cd "$root/kernels" && "$bin/kernels.test" -test.count=1) >"$out/tests.txt" 2>&1
log "kernels tests rc=$?"
(cd "$root/distilbert" && DISTILBERT_DEFAULT_WEIGHTS="$root/distilbert/defaultmodel/sst2-mini/model.safetensors" \
	"$bin/distilbert.test" -test.count=1) >>"$out/tests.txt" 2>&1
log "distilbert tests rc=$?"
if [ -n "${export_pid:-}" ]; then
	wait "$export_pid"
	log "export rc=$?"
fi
# ONNX Runtime's dynamic int8, the rival of our int8 rows (needs the onnx
# Python package beside onnxruntime).
case " ${QUANTIZE:-} " in *" int8 "*)
	if [ ! -f "$model/model-int8.onnx" ]; then
		"$py" "$root/tools/baseline/quantize_onnx.py" --in "$model/model.onnx" --out "$model/model-int8.onnx" >>"$out/log.txt" 2>&1
		log "int8 quantization rc=$?"
	fi ;;
esac

log "kernel benchmarks"
(cd "$root/kernels" && taskset -c "$pin1" "$bin/kernels.test" -test.run=NONE -test.bench='^BenchmarkPeak$' -test.benchtime=5x &&
	taskset -c "$pin1" "$bin/kernels.test" -test.run=NONE -test.bench='LinearVsPeak' -test.benchtime=40x &&
	if [ -n "${QUANTIZE:-}" ]; then taskset -c "$pin1" "$bin/kernels.test" -test.run=NONE -test.bench='LinearInt8' -test.benchtime=20x; fi &&
	if [ "${SWEEP:-Blocking}" != 0 ]; then taskset -c "$pin1" "$bin/kernels.test" -test.run=NONE -test.bench="${SWEEP:-Blocking}" -test.benchtime=20x; fi) >"$out/kernels-bench.txt" 2>&1
log "kernel benchmarks rc=$?"

# Same logits from both engines, or the comparison means nothing.
"$bin/distilbert" predict --model "$model" "this movie was great" >>"$out/log.txt" 2>&1
"$py" -c 'import numpy as np, onnxruntime as ort, sys
ids = np.array([[101, 2023, 3185, 2001, 2307, 102]], dtype=np.int64)
s = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
print("ort logits", s.run(None, {"input_ids": ids, "attention_mask": np.ones_like(ids)})[0].tolist())' "$model/model.onnx" >>"$out/log.txt" 2>&1

kernels=${KERNELS:-$(DISTILBERT_KERNELS=avx512 "$bin/distilbert" inspect --model "$model" >/dev/null 2>&1 && echo "avx512 avx2" || echo avx2)}
first=${kernels%% *}
if [ "${PROFILE:-0}" = 1 ]; then
	log "profiles ($first)"
	DISTILBERT_KERNELS=$first taskset -c "$pin" "$bin/distilbert" bench --model "$model" --seq 16 --batch 1 --threads 2 --min-time 3s --cpuprofile "$out/prof-b1s16.pprof" >>"$out/log.txt" 2>&1
	DISTILBERT_KERNELS=$first taskset -c "$pin" "$bin/distilbert" bench --model "$model" --seq 64 --batch 1 --threads 2 --min-time 3s --cpuprofile "$out/prof-b1s64.pprof" >>"$out/log.txt" 2>&1
	DISTILBERT_KERNELS=$first taskset -c "$pin1" "$bin/distilbert" bench --model "$model" --seq 64 --batch 1 --threads 1 --min-time 3s --cpuprofile "$out/prof-b1s64-1t.pprof" >>"$out/log.txt" 2>&1
	DISTILBERT_KERNELS=$first taskset -c "$pin" "$bin/distilbert" bench --model "$model" --seq 64 --batch 32 --threads 2 --min-iters 3 --cpuprofile "$out/prof-b32s64.pprof" >>"$out/log.txt" 2>&1
fi
# ours K [SPIN [QUANT]]: one pass of our rows; the spin value or
# quantization, if any, is recorded in the kernels field as K/spin=V or K/Q.
ours() {
	local k=$1 spin=${2:-} quant=${3:-} tag=$1 env=(DISTILBERT_KERNELS="$1")
	if [ -n "$spin" ]; then tag="$k/spin=$spin"; env+=(DISTILBERT_SPIN="$spin"); fi
	if [ -n "$quant" ]; then tag="$k/$quant"; env+=(DISTILBERT_QUANTIZE="$quant"); fi
	log "round $round: ours $tag"
	{
		env "${env[@]}" taskset -c "$pin1" "$bin/distilbert" bench --model "$model" --seq 16,64,128 --batch 1 --threads 1 --json
		env "${env[@]}" taskset -c "$pin" "$bin/distilbert" bench --model "$model" --seq 16,64,128 --batch 1 --threads 2 --json
		env "${env[@]}" taskset -c "$pin" "$bin/distilbert" bench --model "$model" --seq 64 --batch 32 --threads 2 --json
		env "${env[@]}" "$bin/distilbert" bench --model "$model" --seq 64,128 --batch 1,32 --threads "$(nproc)" --json
	} | sed "s|\"kernels\":\"$k\"|\"kernels\":\"$tag\"|" >>"$out/ours.jsonl"
}
# ort_round [avx2]: ONNX Runtime's rows of one round; with avx2, under
# avx2only.so (AVX-512 hidden from its CPUID: its AVX2 kernels, the rival
# of our avx2 path), tagged onnxruntime/avx2.
ort_round() {
	local tag=onnxruntime pre=()
	if [ "${1:-}" = avx2 ]; then
		tag=onnxruntime/avx2
		pre=("$root/tools/baseline/avx2only.sh" "$bin/avx2only.so")
	fi
	local relabel="s|\"kernels\": *\"onnxruntime\"|\"kernels\": \"$tag\"|"
	log "round $round: $tag"
	local ort=("${pre[@]}" "$py" "$root/tools/baseline/ort_bench.py" --onnx "$model/model.onnx" --model "$model" --min-time 1 --json)
	{
		taskset -c "$pin1" "${ort[@]}" --seq 16,64,128 --batch 1 --threads 1
		taskset -c "$pin" "${ort[@]}" --seq 16,64,128 --batch 1 --threads 2
		taskset -c "$pin" "${ort[@]}" --seq 64 --batch 32 --threads 2
		"${ort[@]}" --seq 64,128 --batch 1,32 --threads "$(nproc)"
	} | sed "$relabel" >>"$out/ort.jsonl"
	if [ -f "$model/model-int8.onnx" ] && [[ " ${QUANTIZE:-} " == *" int8 "* ]]; then
		log "round $round: $tag int8"
		local ort8=("${pre[@]}" "$py" "$root/tools/baseline/ort_bench.py" --onnx "$model/model-int8.onnx" --model "$model" --min-time 1 --json --quantization int8)
		{
			taskset -c "$pin1" "${ort8[@]}" --seq 16,64,128 --batch 1 --threads 1
			taskset -c "$pin" "${ort8[@]}" --seq 16,64,128 --batch 1 --threads 2
			taskset -c "$pin" "${ort8[@]}" --seq 64 --batch 32 --threads 2
		} | sed "$relabel" >>"$out/ort.jsonl"
	fi
}
# Where the CPU has AVX-512 and we bench the avx2 path, ORT also runs as on
# an AVX2 CPU (make offline-bins builds avx2only.so where it has a C compiler).
ort_avx2=
if [[ " $kernels " == *" avx2 "* ]] && grep -qw avx512f /proc/cpuinfo && [ -f "$bin/avx2only.so" ]; then
	if "$root/tools/baseline/avx2only.sh" "$bin/avx2only.so" /bin/true 2>>"$out/log.txt"; then ort_avx2=1; else log "avx2only.so does not work here: no ORT avx2 rows"; fi
fi
for round in $(seq "$rounds"); do
	for k in $kernels; do
		if [ -z "${SPINS:-}" ]; then ours "$k"; else for sp in $SPINS; do ours "$k" "$sp"; done; fi
		for q in ${QUANTIZE:-}; do ours "$k" "" "$q"; done
	done
	ort_round
	if [ -n "$ort_avx2" ]; then ort_round avx2; fi
done
log "done"
