#!/usr/bin/env bash
# Fuzzes every target in the module, each func FuzzXxx in a tracked
# _test.go file, so that a new fuzzer is run by make test without being
# listed anywhere. FUZZTIME is a count (see the Makefile); targets that
# run the model or write files per input get SLOW_FUZZTIME.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-20000x}
SLOW_FUZZTIME=${SLOW_FUZZTIME:-2000x}
slow=" FuzzCgroupFiles FuzzHTTP "

targets=$(git ls-files -- '*_test.go' ':!:deploy/**' |
	xargs grep -H -o '^func Fuzz[A-Za-z0-9_]*' | sed 's/:func / /')
[ -n "$targets" ] || { echo "fuzz.sh: no fuzz targets found" >&2; exit 1; }
n=0
while read -r file name; do
	runs=$FUZZTIME
	case "$slow" in *" $name "*) runs=$SLOW_FUZZTIME ;; esac
	echo "== $name ($(dirname "$file"), $runs)"
	$GO test -run=NONE -fuzz="^$name\$" -fuzztime="$runs" "./$(dirname "$file")"
	n=$((n + 1))
done <<< "$targets"
echo "fuzz.sh: $n targets"
