#!/bin/sh
# Code comments say why, not what one machine measured on one day: no CPU
# model names and no one-day measurements in the comments of non-test
# code (numbers and their history go to docs/PERFORMANCE.md). Exits 1 and
# lists the offending lines.
set -eu
cd "$(dirname "$0")/.."
cpus='Zen ?[0-9]|Xeon|EPYC|Skylake|Cascade ?Lake|Ice ?Lake|Tiger ?Lake|Sapphire ?Rapids|Emerald ?Rapids|Granite ?Rapids|Neoverse|Cortex-[AX]|Graviton|Ryzen|Haswell|Broadwell|Apple M[1-9]'
diary='[0-9] ?% (faster|slower|better|worse)|[0-9]x (faster|slower)|measured|points of peak|GB/s|GFLOP/s on'
files=$(git ls-files '*.go' '*.s' | grep -v '_test\.go$')
# Comment lines only: // … anywhere on the line.
bad=$(printf '%s\n' $files | xargs grep -nE "//.*($cpus|$diary)" || true)
if [ -n "$bad" ]; then
	echo "check-comments: comments naming a CPU model or a one-day measurement:" >&2
	printf '%s\n' "$bad" >&2
	exit 1
fi
