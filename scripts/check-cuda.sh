#!/usr/bin/env bash
# The cuda build tag without a GPU: the cgo build of the binary and of the
# cuda package's tests, the binary's behaviour where no driver is found
# (--device cuda fails naming the library, --device auto falls back to
# the CPU saying why), and the default build still static with no trace of
# the GPU engine.
#
#   scripts/check-cuda.sh OUTDIR
set -eu
out=${1:-bin/cuda-check}
GO=${GO:-go}
mkdir -p "$out"
fail() { echo "check-cuda: $*" >&2; exit 1; }

CGO_ENABLED=1 $GO build -tags cuda -o "$out/distilbert-cuda" ./cmd/distilbert
CGO_ENABLED=1 $GO test -c -tags cuda -o "$out/cuda.test" ./distilbert/cuda
CGO_ENABLED=0 $GO build -o "$out/distilbert" ./cmd/distilbert

# Point the loader at an empty folder so that a machine with a driver
# still takes the no-driver path here.
export DISTILBERT_CUDA_LIBS=$out/none LD_LIBRARY_PATH=$out/none
if [ -e /usr/lib/x86_64-linux-gnu/libcuda.so.1 ] || ldconfig -p 2>/dev/null | grep -q 'libcuda\.so\.1 '; then
	echo "check-cuda: this machine has a CUDA driver; the no-driver checks are skipped"
else
	err=$("$out/distilbert-cuda" predict --device cuda "a fine film" 2>&1) && fail "--device cuda succeeded without a driver"
	case $err in *libcuda.so.1*) ;; *) fail "--device cuda without a driver: $err" ;; esac
	log=$("$out/distilbert-cuda" predict --device auto "a fine film" 2>&1) || fail "--device auto: $log"
	case $log in *"device auto: using cpu"*libcuda*) ;; *) fail "--device auto did not say why it fell back: $log" ;; esac
	(cd distilbert/cuda && "../../$out/cuda.test" -test.count=1 -test.run 'GEMMAccuracy|Rounding' -test.v) |
		grep -q 'no GPU' || fail "the cuda tests did not skip the GPU with a reason"
fi

kind=$(file -b "$out/distilbert")
case $kind in *"statically linked"*) ;; *) fail "default binary not statically linked: $kind" ;; esac
$GO tool nm "$out/distilbert" >"$out/nm.txt"
if grep -E 'distilbert/cuda|dbg_gpu|cublas|nvrtc' "$out/nm.txt"; then
	fail "the default binary carries GPU engine symbols"
fi
$GO tool nm "$out/distilbert-cuda" >"$out/nm-cuda.txt"
grep -q 'distilbert/cuda\.' "$out/nm-cuda.txt" || fail "the cuda binary lacks the GPU engine"
echo "check-cuda: ok"
