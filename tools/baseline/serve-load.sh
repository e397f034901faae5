#!/usr/bin/env bash
# The service under load, from prebuilt binaries: the service on
# two physical cores, the load generator on other cores where the machine has
# them (on a 2-CPU machine they share, which costs the service latency).
#
#   tools/baseline/serve-load.sh BINDIR OUTDIR
#
# BINDIR holds distilbert and loadtest (or their .xz). For each quantization
# in QUANTS (default "int8 none"): start `distilbert serve` on the model
# (MODEL_DIR, default /tmp/distilbert-base-random), find the saturating rate
# (closed loop, concurrency 64, SAT_D, default 15s), then run the open loop
# at each fraction of it in FRACTIONS (default "0.7 0.8"; OPEN_D each,
# default 30s). Before that, one 20-token text unloaded (concurrency 1,
# 10 s) over HTTP and the engine alone on the same CPUs (`distilbert bench
# --seq 20 --batch 1`). One JSON object per level goes to
# OUTDIR/serve.jsonl, with "quantization", "fraction" ("unloaded", "engine",
# "sat" for the closed loop, else the fraction) and "server_cpus"; the
# service's own log to OUTDIR/serve.log.
set -u
bin=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
model=${MODEL_DIR:-/tmp/distilbert-base-random}
port=${PORT:-18090}
log() { echo "serve-load.sh $(date +%T): $*" | tee -a "$out/log.txt" >&2; }

. "$(dirname "${BASH_SOURCE[0]}")/unpack.sh"
unpack_bins "$bin"

# Two CPUs on distinct physical cores for the service, the rest for the load.
cores=$(lscpu -p=CPU,CORE 2>/dev/null | grep -v '^#' | sort -t, -k2,2n -u | cut -d, -f1)
server=$(echo "$cores" | head -2 | paste -sd,)
client=$(lscpu -p=CPU 2>/dev/null | grep -v '^#' | grep -vxF -f <(echo "$cores" | head -2) | paste -sd,)
[ -n "$client" ] || client=$server
log "service on CPUs $server, load generator on CPUs $client"

text=$(mktemp)
echo 'a sometimes tedious film that is slow , very slow and never once funny or moving .' >"$text" # 20 tokens

for q in ${QUANTS:-int8 none}; do
	echo "== quantize $q" >>"$out/serve.log"
	taskset -c "$server" "$bin/distilbert" serve --model "$model" --addr "127.0.0.1:$port" --quantize "$q" >>"$out/serve.log" 2>&1 &
	pid=$!
	load=(taskset -c "$client" "$bin/loadtest" -url "http://127.0.0.1:$port" -json)
	tag() { sed "s|^{|{\"quantization\":\"$q\",\"fraction\":$1,\"server_cpus\":\"$server\",|"; }
	"${load[@]}" -wait 120s -texts "$text" -c 1 -d 10s | tag '"unloaded"' >>"$out/serve.jsonl"
	taskset -c "$server" "$bin/distilbert" bench --model "$model" --quantize "$q" --seq 20 --batch 1 --threads 2 --json 2>>"$out/serve.log" |
		tag '"engine"' >>"$out/serve.jsonl"
	log "$q: unloaded p50 $(tail -2 "$out/serve.jsonl" | grep -o '"p50_ms":[0-9.]*' | paste -sd' ') (HTTP, engine)"
	sat=$("${load[@]}" -c 64 -d "${SAT_D:-15s}" | tag '"sat"' | tee -a "$out/serve.jsonl" |
		sed -n 's/.*"req_per_s":\([0-9.e+-]*\).*/\1/p')
	log "$q: saturation ${sat:-?} req/s"
	for f in ${FRACTIONS:-0.7 0.8}; do
		[ -n "$sat" ] || break
		rate=$(awk -v s="$sat" -v f="$f" 'BEGIN { printf "%.1f", s * f }')
		"${load[@]}" -rate "$rate" -c 256 -d "${OPEN_D:-30s}" | tag "$f" >>"$out/serve.jsonl"
		log "$q: open loop at $f ($rate req/s): $(tail -1 "$out/serve.jsonl" | grep -o '"p50_ms":[0-9.]*\|"p99_ms":[0-9.]*\|"errors":[0-9]*' | paste -sd' ')"
	done
	kill "$pid"
	wait "$pid" 2>/dev/null
done
rm -f "$text"
log "done"
