#!/usr/bin/env bash
# tools/baseline/avx2only.c, the preload that hides AVX-512 from ONNX
# Runtime for run.sh --isa avx2, run through avx2only.sh: it builds
# warning-free; where the CPU has AVX-512 and CPUID faulting, a program
# under it sees AVX2 and no AVX-512,
# a real segfault still kills the program, and Node (which resets every
# signal handler at start-up) still runs; elsewhere it refuses clearly.
#
#   scripts/check-avx2only.sh OUTDIR
set -eu
out=${1:-bin/avx2only-check}
mkdir -p "$out"
out=$(cd "$out" && pwd)
fail() { echo "check-avx2only: $*" >&2; exit 1; }
src=tools/baseline/avx2only.c

cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$out/avx2only.so" "$src"
cc -O2 -Wall -Wextra -Werror -DAVX2ONLY_PROBE -o "$out/avx2only-probe" "$src"
printf 'int main(void) { volatile int *p = 0; return *p; }\n' >"$out/segv.c"
cc -O0 -o "$out/segv" "$out/segv.c"

if ! grep -qw cpuid_fault /proc/cpuinfo; then
	rc=0; msg=$("$out/avx2only-probe" 2>&1) || rc=$?
	[ "$rc" = 3 ] || fail "without CPUID faulting the probe exited $rc: $msg"
	case $msg in *"no CPUID faulting"*) ;; *) fail "without CPUID faulting: $msg" ;; esac
	echo "check-avx2only: no CPUID faulting here; the refusal is clear"
	exit 0
fi
if ! grep -qw avx512f /proc/cpuinfo; then
	echo "check-avx2only: no AVX-512 here; only the build is checked"
	exit 0
fi
"$out/avx2only-probe" || fail "the probe still sees AVX-512"
run=tools/baseline/avx2only.sh
rc=$("$run" "$out/avx2only.so" sh -c '"$0"; echo $?' "$out/segv" 2>/dev/null)
[ "$rc" = 139 ] || fail "a real segfault under the preload exited $rc, not 139 (SIGSEGV)"
if command -v node >/dev/null; then
	got=$("$run" "$out/avx2only.so" node -e 'console.log("ok")') || fail "node under the preload failed"
	[ "$got" = ok ] || fail "node under the preload printed $got"
fi
echo "check-avx2only: AVX-512 hidden, real faults still fatal"
