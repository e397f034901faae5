#!/usr/bin/env bash
# The GPU checks of the cuda backend on a machine with an NVIDIA GPU, no Go
# and no network, from prebuilt binaries (make gpu-bins):
#
#   tools/baseline/gpu.sh BINDIR OUTDIR
#
# BINDIR holds distilbert (built with -tags cuda), cuda.test, genmodel and
# loadtest, or their .xz. In order, each step logged and bounded in time:
#  1. probe: nvidia-smi, where libcuda, cuBLAS and NVRTC live (the Python
#     wheels' folders are passed as DISTILBERT_CUDA_LIBS and
#     LD_LIBRARY_PATH), and shim.h checked against the real headers
#     (cudacheck.c) where the toolkit is installed;
#  2. the golden tests on cuda, every precision, and the GEMM accuracy
#     diagnostic (cuda.test -test.short: the GPU targets only);
#  3. `distilbert bench` on the full-size random DistilBERT in each
#     precision beside torch_bench.py (eager PyTorch with SDPA, fp32 and
#     fp16) on the same weights, alternating, ROUNDS (default 2) times;
#  4. `distilbert serve` under loadtest at concurrency 256 with the SST-2
#     sentences: --device cuda in GPU_PRECISION (default fp16), then the
#     same binary on the CPU (all cores) for the ratio.
# Rows go to OUTDIR/ours.jsonl, torch.jsonl and serve.jsonl.
# PyTorch is the first of $PYTHON, /opt/torch/.venv/bin/python3 (where the
# GPU machines keep their venv) and python3 that imports torch.
# SKIP="tests bench serve" leaves steps out.
set -u
bin=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
model=${MODEL_DIR:-/tmp/distilbert-base-random}
rounds=${ROUNDS:-2}
prec=${GPU_PRECISION:-fp16}
port=${PORT:-18091}
py=
for c in ${PYTHON:-} /opt/torch/.venv/bin/python3 python3; do
	if "$c" -c 'import torch' >/dev/null 2>&1; then
		py=$c
		break
	fi
done
py=${py:-python3}
log() { echo "gpu.sh $(date +%T): $*" | tee -a "$out/log.txt" >&2; }
skip() { [[ " ${SKIP:-} " == *" $1 "* ]]; }

. "$root/tools/baseline/unpack.sh"
PYTHON=$py unpack_bins "$bin"

log "probe"
{
	nvidia-smi
	nproc
	echo "python: $py $("$py" -c "import torch; print(torch.__version__, torch.version.cuda)" 2>&1)"
	ldd --version | head -1
	ldconfig -p | grep -E 'libcuda\.|libcublas|libnvrtc'
	find /usr /opt /lib /lib64 \( -name 'libcublas.so*' -o -name 'libnvrtc.so*' -o -name 'libcublasLt.so*' -o -name cuda.h -o -name cublas_api.h -o -name nvrtc.h \) 2>/dev/null
} >"$out/probe.txt" 2>&1
# The folders of the newest cuBLAS and NVRTC found, when the loader's
# path lacks them (PyTorch's wheels keep them under site-packages).
libdirs=""
for lib in libcublas.so.13 libcublas.so.12 libnvrtc.so.13 libnvrtc.so.12; do
	ldconfig -p | grep -q "$lib " && continue
	d=$(grep "/$lib\$" "$out/probe.txt" | head -1)
	[ -n "$d" ] && libdirs="$libdirs:$(dirname "$d")"
done
libdirs=${libdirs#:}
if [ -n "$libdirs" ]; then
	export DISTILBERT_CUDA_LIBS=$libdirs LD_LIBRARY_PATH=$libdirs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
log "libraries from: ${libdirs:-the loader path}"
# -I for the toolkit's headers: the folder holding cublas_api.h first (the
# toolkit's cuda.h is usually beside it), then any other folder with one of
# them, but not the kernel's or PyTorch's own cuda.h.
incs=()
for h in cublas_api.h cuda.h nvrtc.h; do
	f=$(grep "/$h\$" "$out/probe.txt" | grep -v -e '/linux/' -e '/torch/' | head -1)
	[ -n "$f" ] && incs+=("-I$(dirname "$f")")
done
if [ ${#incs[@]} -gt 0 ] && command -v gcc >/dev/null; then
	gcc -fsyntax-only -Werror "${incs[@]}" "$root/distilbert/cuda/cudacheck.c" >"$out/cudacheck.txt" 2>&1
	log "cudacheck.c with ${incs[*]}: rc=$? $(head -c 600 "$out/cudacheck.txt")"
fi

if ! skip tests; then
	log "golden tests on cuda"
	(cd "$root/distilbert/cuda" && timeout 300 "$bin/cuda.test" -test.v -test.short -test.count=1) >"$out/tests.txt" 2>&1
	log "tests rc=$? $(grep -E '^(--- FAIL|FAIL|ok|PASS)' "$out/tests.txt" | head -20 | paste -sd' ')"
	# The elementwise kernels' scalar forms, which the vector ones replace
	# on aligned shapes.
	(cd "$root/distilbert/cuda" && DISTILBERT_CUDA_VECTOR=0 timeout 120 "$bin/cuda.test" -test.v -test.short -test.count=1 -test.run 'Goldens|SST2') >"$out/tests-scalar.txt" 2>&1
	log "scalar kernels: tests rc=$? $(grep -E '^(--- FAIL|FAIL|ok|PASS)' "$out/tests-scalar.txt" | head -20 | paste -sd' ')"
fi

[ -f "$model/model.safetensors" ] || "$bin/genmodel" --out "$model" >>"$out/log.txt" 2>&1
# Same logits from both engines, or the comparison means nothing.
ids='[101, 2023, 3185, 2001, 2307, 102]'
for p in fp32 fp16; do
	echo '{"text": "this movie was great"}' | timeout 120 "$bin/distilbert" predict --model "$model" --device cuda --gpu-precision $p --ids --input - >>"$out/check.txt" 2>&1
	timeout 120 "$py" "$root/tools/baseline/torch_bench.py" --model "$model" --device cuda --dtype $p --check >>"$out/check.txt" 2>&1
done
log "logits: $(grep -o '"logits":[^]]*]' "$out/check.txt" | paste -sd' ')"

if ! skip bench; then
	for round in $(seq "$rounds"); do
		for p in fp32 tf32 fp16 bf16; do
			log "round $round: ours $p"
			timeout 120 "$bin/distilbert" bench --model "$model" --device cuda --gpu-precision $p --seq 128 --batch 1,32 \
				--min-time 2s --json 2>>"$out/log.txt" | sed "s|^{|{\"precision\":\"$p\",|" >>"$out/ours.jsonl"
		done
		for p in fp32 fp16; do
			log "round $round: torch $p"
			timeout 120 "$py" "$root/tools/baseline/torch_bench.py" --model "$model" --device cuda --dtype $p \
				--seq 128 --batch 1,32 --min-time 2 --json 2>>"$out/log.txt" >>"$out/torch.jsonl"
		done
	done
	# What the CUDA graphs save, and where a batch-32 pass spends its time
	# (Nsight Compute, one pass, kernels launched one by one).
	timeout 120 env DISTILBERT_CUDA_GRAPHS=0 "$bin/distilbert" bench --model "$model" --device cuda --gpu-precision fp16 \
		--seq 128 --batch 1,32 --min-time 2s --json 2>>"$out/log.txt" | sed 's|^{|{"precision":"fp16","graphs":false,|' >>"$out/ours.jsonl"
	ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
	if [ -n "$ncu" ] && [ "${PROFILE:-1}" = 1 ]; then
		log "profile ($ncu)"
		DISTILBERT_CUDA_GRAPHS=0 timeout 180 "$ncu" --clock-control none --launch-skip 100 --launch-count 90 \
			--metrics gpu__time_duration.sum --csv "$bin/distilbert" bench --model "$model" --device cuda \
			--gpu-precision fp16 --seq 128 --batch 32 --min-iters 3 --min-time 0s >"$out/ncu-fp16-b32.csv" 2>>"$out/log.txt"
		log "profile rc=$?"
	fi
	log "bench: $(grep -ho '"precision":"[a-z0-9]*"\|"batch":[0-9]*\|"p50_ms":[0-9.]*' "$out/ours.jsonl" | paste -sd' ')"
	log "torch: $(grep -ho '"batch": [0-9]*\|"p50_ms": [0-9.]*\|"precision": "[a-z0-9]*"' "$out/torch.jsonl" | paste -sd' ')"
fi

if ! skip serve; then
	for dev in cuda cpu; do
		log "serve --device $dev"
		batching=() # the CPU's defaults; a GPU takes bigger batches
		[ "$dev" = cuda ] && batching=(--max-batch-size 256 --max-batch-tokens 32768)
		"$bin/distilbert" serve --model "$model" --addr "127.0.0.1:$port" --device $dev --gpu-precision "$prec" \
			"${batching[@]}" --access-log=false >>"$out/serve.log" 2>&1 &
		pid=$!
		sleep 2
		if ! kill -0 "$pid" 2>/dev/null; then
			log "$dev: serve exited: $(tail -3 "$out/serve.log")"
			continue
		fi
		"$bin/loadtest" -url "http://127.0.0.1:$port" -json -wait 90s -c 256 -d "${SERVE_D:-20s}" -warmup 3s |
			sed "s|^{|{\"device\":\"$dev\",\"precision\":\"$prec\",|" >>"$out/serve.jsonl"
		log "$dev: $(tail -1 "$out/serve.jsonl" | grep -o '"req_per_s":[0-9.e+]*\|"p50_ms":[0-9.]*\|"p99_ms":[0-9.]*\|"errors":[0-9]*' | paste -sd' ')"
		kill "$pid"
		wait "$pid" 2>/dev/null
	done
fi
log "done"
