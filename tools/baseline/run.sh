#!/usr/bin/env bash
# Side-by-side latency: distilbert-go vs ONNX Runtime on the same full-size
# random DistilBERT and the same inputs. See README.md.
#
#   tools/baseline/run.sh [--seq 16,64,128] [--batch 1,8] [--threads 1,2]
#                         [--quant none,int8] [--model DIR] [--min-time 2s] [--rounds N]
#                         [--no-check] [--ort-only] [--isa native|avx2] [--per-row]
#
# The same settings can come from the environment: SEQ, BATCH, THREADS, QUANT,
# MODEL_DIR, MIN_TIME, ROUNDS, CHECK=0, ORT_ONLY=1, ISA, PER_ROW=1. Runs are
# sequential (never two benchmarks at once). --quant int8 compares ours
# --quantize int8 with ORT's dynamic int8 (quantize_onnx.py's model-int8.onnx).
# --isa avx2 compares the avx2 paths on a CPU with AVX-512: ours with
# DISTILBERT_KERNELS=avx2, ORT with AVX-512 hidden from its CPUID (avx2only.c;
# needs cc and CPUID faulting). --per-row alternates the engines on every
# batch × seq row rather than on every set of rows: the two runs of a pair
# are seconds apart, not minutes, for one model load more per row.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

SEQ=${SEQ:-16,64,128}
BATCH=${BATCH:-1,8}
THREADS=${THREADS:-1,2}
QUANT=${QUANT:-none,int8}
MODEL_DIR=${MODEL_DIR:-/tmp/distilbert-base-random}
MIN_TIME=${MIN_TIME:-2s}
ROUNDS=${ROUNDS:-1}
CHECK=${CHECK:-1}
ORT_ONLY=${ORT_ONLY:-0}
ISA=${ISA:-native}
PER_ROW=${PER_ROW:-0}
PYTHON=/usr/bin/python3

while [ $# -gt 0 ]; do
	case "$1" in
	--seq) SEQ=$2; shift 2 ;;
	--batch) BATCH=$2; shift 2 ;;
	--threads) THREADS=$2; shift 2 ;;
	--quant) QUANT=$2; shift 2 ;;
	--model) MODEL_DIR=$2; shift 2 ;;
	--min-time) MIN_TIME=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--no-check) CHECK=0; shift ;;
	--ort-only) ORT_ONLY=1; shift ;;
	--isa) ISA=$2; shift 2 ;;
	--per-row) PER_ROW=1; shift ;;
	-h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done

log() { echo "run.sh: $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# (a) dependencies: Debian torch + OpenBLAS for the export, python3-onnx for
# the int8 rewrite, onnxruntime-node for the bench.
if ! "$PYTHON" -c 'import torch, numpy, onnx' 2>/dev/null || ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
	log "installing python3-torch python3-onnx libopenblas0-pthread (apt)"
	as_root apt-get update -q
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch python3-onnx libopenblas0-pthread
fi
if [ ! -d "$here/node_modules/onnxruntime-node" ]; then
	log "installing onnxruntime-node (npm ci)"
	(cd "$here" && ONNXRUNTIME_NODE_INSTALL=skip ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund)
fi

# (b) the random DistilBERT-base checkpoint, (c) its ONNX export.
if [ ! -f "$MODEL_DIR/model.safetensors" ]; then
	log "generating $MODEL_DIR"
	(cd "$root" && go run ./tools/genmodel --out "$MODEL_DIR")
fi
if [ ! -f "$MODEL_DIR/model.onnx" ]; then
	log "exporting $MODEL_DIR/model.onnx"
	"$PYTHON" "$here/export_onnx.py" --model "$MODEL_DIR" --out "$MODEL_DIR/model.onnx.tmp" 2> >(grep -v -e TracerWarning -e 'masked_fill' >&2)
	mv "$MODEL_DIR/model.onnx.tmp" "$MODEL_DIR/model.onnx"
fi
IFS=, read -ra quant_list <<<"$QUANT"
for q in "${quant_list[@]}"; do
	case "$q" in
	none) ;;
	int8)
		if [ ! -f "$MODEL_DIR/model-int8.onnx" ]; then
			log "quantizing $MODEL_DIR/model-int8.onnx (ORT dynamic int8, per-channel)"
			"$PYTHON" "$here/quantize_onnx.py" --in "$MODEL_DIR/model.onnx" --out "$MODEL_DIR/model-int8.onnx.tmp"
			mv "$MODEL_DIR/model-int8.onnx.tmp" "$MODEL_DIR/model-int8.onnx"
		fi ;;
	*) echo "run.sh: --quant takes none and int8, got $q" >&2; exit 2 ;;
	esac
done
onnx_for() { if [ "$1" = int8 ]; then echo "$MODEL_DIR/model-int8.onnx"; else echo "$MODEL_DIR/model.onnx"; fi; }

results="$MODEL_DIR/results"
mkdir -p "$results"
: >"$results/ours.jsonl"
: >"$results/ort.jsonl"

# ours and ort run the two engines, on the same instruction sets.
ours_env=()
ort_env=()
case "$ISA" in
native) ;;
avx2)
	log "building avx2only.so (ORT runs with AVX-512 hidden from CPUID)"
	cc -O2 -shared -fPIC -o "$results/avx2only.so" "$here/avx2only.c"
	cc -O2 -DAVX2ONLY_PROBE -o "$results/avx2only-probe" "$here/avx2only.c"
	"$results/avx2only-probe" >&2 || { log "--isa avx2: AVX-512 could not be hidden here"; exit 1; }
	ort_env=("$here/avx2only.sh" "$results/avx2only.so")
	ours_env=(env DISTILBERT_KERNELS=avx2 GODEBUG=cpu.avx512f=off,cpu.avx512bw=off,cpu.avx512vl=off) ;;
*) echo "run.sh: --isa takes native and avx2, got $ISA" >&2; exit 2 ;;
esac
ours() { "${ours_env[@]}" "$bin" "$@"; }
ort() { "${ort_env[@]}" node "$here/ort_bench.js" "$@"; }

bin="$results/distilbert"
if [ "$ORT_ONLY" != 1 ]; then
	log "building cmd/distilbert"
	(cd "$root" && CGO_ENABLED=0 go build -trimpath -o "$bin" ./cmd/distilbert)
fi

# Both engines on the same two texts: the comparison is only fair if they agree.
if [ "$CHECK" = 1 ] && [ "$ORT_ONLY" != 1 ]; then
	ort --onnx "$MODEL_DIR/model.onnx" --model "$MODEL_DIR" --check >"$results/check-ort.jsonl" 2>/dev/null
	node -e '
		const fs = require("fs");
		const ort = fs.readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
		const { execFileSync } = require("child_process");
		const out = execFileSync(process.argv[2], ["predict", "--model", process.argv[3], "--ids", ...ort.map((r) => r.text)], { encoding: "utf8" });
		const ours = out.trim().split("\n").map(JSON.parse);
		let worst = 0;
		ort.forEach((r, i) => {
			if (JSON.stringify(ours[i].input_ids) !== JSON.stringify(r.input_ids)) throw new Error("input_ids differ for " + JSON.stringify(r.text));
			r.logits.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - ours[i].logits[j])); });
		});
		console.error(`run.sh: check: ours vs ORT logits on ${ort.length} texts, max abs diff ${worst.toExponential(2)}` + (worst > 1e-4 ? "  ** ABOVE 1e-4 **" : ""));
	' "$results/check-ort.jsonl" "$bin" "$MODEL_DIR"
fi
# The int8 rival must still compute (nearly) the same function as float32.
if [ "$CHECK" = 1 ] && [ -f "$MODEL_DIR/model-int8.onnx" ] && [[ ",$QUANT," == *,int8,* ]]; then
	ort --onnx "$MODEL_DIR/model-int8.onnx" --model "$MODEL_DIR" --check >"$results/check-ort-int8.jsonl" 2>/dev/null
	node -e '
		const fs = require("fs");
		const read = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map(JSON.parse);
		const f32 = read(process.argv[1]), i8 = read(process.argv[2]);
		let worst = 0;
		f32.forEach((r, i) => r.logits.forEach((v, j) => { worst = Math.max(worst, Math.abs(v - i8[i].logits[j])); }));
		console.error(`run.sh: check: ORT int8 vs ORT float32 logits on ${f32.length} texts, max abs diff ${worst.toExponential(2)}` + (worst > 0.1 ? "  ** ABOVE 0.1 **" : ""));
	' "$results/check-ort.jsonl" "$results/check-ort-int8.jsonl"
fi

# (d) the benchmarks, one thread count (with --per-row, one row) at a time,
# ours then ORT; with --rounds N the whole sequence repeats N times, so slow
# spells of a shared machine hit both engines alike, and the table shows
# medians.
IFS=, read -ra thread_list <<<"$THREADS"
# bench_pair runs ours then ORT on the given batch and seq lists.
bench_pair() {
	local q=$1 t=$2 batch=$3 seq=$4
	if [ "$ORT_ONLY" != 1 ]; then
		log "ours: $q, isa $ISA, threads $t, batch $batch, seq $seq"
		if ! ours bench --model "$MODEL_DIR" --quantize "$q" --seq "$seq" --batch "$batch" --threads "$t" --min-time "$MIN_TIME" --json >>"$results/ours.jsonl"; then
			log "ours: bench failed ($q, threads $t); continuing with ORT only"
		fi
	fi
	log "onnxruntime: $q, isa $ISA, threads $t, batch $batch, seq $seq"
	ort --onnx "$(onnx_for "$q")" --model "$MODEL_DIR" --quantization "$q" \
		--seq "$seq" --batch "$batch" --threads "$t" --min-time "$MIN_TIME" --json >>"$results/ort.jsonl"
}
IFS=, read -ra batch_list <<<"$BATCH"
IFS=, read -ra seq_list <<<"$SEQ"
for round in $(seq "$ROUNDS"); do
[ "$ROUNDS" -gt 1 ] && log "round $round of $ROUNDS"
for q in "${quant_list[@]}"; do
for t in "${thread_list[@]}"; do
	if [ "$PER_ROW" = 1 ]; then
		for b in "${batch_list[@]}"; do
			for n in "${seq_list[@]}"; do
				bench_pair "$q" "$t" "$b" "$n"
			done
		done
	else
		bench_pair "$q" "$t" "$BATCH" "$SEQ"
	fi
done
done
done

# (e) the table: per row, the median over rounds of each engine's p50/p90,
# and the ours/ORT p50 ratio of every round.
node -e '
	const fs = require("fs");
	const read = (f) => fs.readFileSync(f, "utf8").split("\n").filter((l) => l.trim().startsWith("{")).map(JSON.parse);
	const key = (r) => `${r.quantization || "none"}/${r.batch}/${r.seq}/${r.threads}`;
	const group = (rows) => { const m = new Map(); for (const r of rows) { if (!m.has(key(r))) m.set(key(r), []); m.get(key(r)).push(r); } return m; };
	const median = (xs) => { const s = xs.filter((x) => isFinite(x)).sort((a, b) => a - b); return s.length ? s[(s.length - 1) >> 1] : NaN; };
	const ours = group(read(process.argv[1]));
	const ort = group(read(process.argv[2]));
	const f = (v, d = 2) => (v === undefined || v === null || !isFinite(v) ? "-" : v.toFixed(d));
	const rows = [["quant", "batch", "seq", "thr", "ours p50", "ours p90", "ORT p50", "ORT p90", "p50 ours/ORT", "seq/s ours/ORT", "per round", "ours kernels"]];
	for (const [k, os] of ort) {
		const us = ours.get(k) || [];
		const o = os[0], u50 = median(us.map((r) => r.p50_ms)), o50 = median(os.map((r) => r.p50_ms));
		const rounds = os.map((r, i) => (us[i] ? f(us[i].p50_ms / r.p50_ms, 2) : "-")).join(",");
		rows.push([o.quantization || "none", o.batch, o.seq, o.threads, f(u50), f(median(us.map((r) => r.p90_ms))), f(o50), f(median(os.map((r) => r.p90_ms))),
			f(u50 / o50, 3), f(median(us.map((r) => r.seqs_per_s)) / median(os.map((r) => r.seqs_per_s)), 3), rounds, (us[0] || {}).kernels || "-"].map(String));
	}
	const w = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
	for (const r of rows) console.log(r.map((s, c) => (c < 4 || c >= 10 ? s.padEnd(w[c]) : s.padStart(w[c]))).join("  ").trimEnd());
	console.log("times in ms (median over rounds of p50/p90 of the per-run wall time); ratios < 1 for p50 and > 1 for seq/s mean ours is faster");
' "$results/ours.jsonl" "$results/ort.jsonl"
log "raw rows: $results/ours.jsonl $results/ort.jsonl"
