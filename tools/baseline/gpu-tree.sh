#!/usr/bin/env bash
# Fits the working tree under the GPU machine's copy limit (64 MiB: the
# tracked tree is close to it, and the binaries of `make gpu-bins` travel
# beside it), then puts it back:
#
#   tools/baseline/gpu-tree.sh slim     # before the device run
#   tools/baseline/gpu-tree.sh restore  # after it
#
# slim detaches HEAD and stops tracking (in the index only; the files stay
# on disk, hidden by .git/info/exclude) the fixtures that neither the cuda
# tests nor gpu.sh read: PyTorch pickles, tokenizer tables, per-layer
# goldens, the KServe schema. It refuses a tree with uncommitted changes,
# since restore resets the index. The device run then carries bin/gpu
# (ignored by git) by name.
set -eu
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
exclude=$(git rev-parse --git-path info/exclude)
state=$(git rev-parse --git-path info/gpu-tree)
limit=$((64 << 20))

# Fixtures the GPU checks do not read; each path is checked to exist, so a
# rename fails here rather than on the device.
offGPU=(
	testdata/models/tiny-pt-variants testdata/models/tiny-pt testdata/pickle
	testdata/golden/sst2-mini-layers.json testdata/golden/tokenizer-hf.jsonl testdata/golden/tiny-pt.jsonl
	distilbert/tokenize/testdata deploy/kserve/testdata
	testdata/models/tiny-odd/vocab.txt distilbert/defaultmodel/sst2-mini/vocab.txt
)

tracked_bytes() { git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

case "${1:-}" in
slim)
	[ -e "$state" ] && { echo "gpu-tree: already slim (run restore)" >&2; exit 1; }
	git diff --quiet HEAD || { echo "gpu-tree: commit or stash the changes first" >&2; exit 1; }
	for p in "${offGPU[@]}"; do
		[ -e "$p" ] || { echo "gpu-tree: $p is gone: update the list" >&2; exit 1; }
	done
	git symbolic-ref -q --short HEAD >"$state" || git rev-parse HEAD >"$state"
	mkdir -p "$(dirname "$exclude")"
	[ -f "$exclude" ] && cp "$exclude" "$state.exclude"
	git checkout -q --detach
	printf '/%s\n' "${offGPU[@]}" >>"$exclude"
	git rm -r -q --cached "${offGPU[@]}"
	tree=$(tracked_bytes)
	bins=$(du -sb bin/gpu 2>/dev/null | cut -f1)
	bins=${bins:-0}
	echo "gpu-tree: tracked $((tree >> 20)) MiB + bin/gpu $((bins >> 20)) MiB of $((limit >> 20)) MiB"
	if [ $((tree + bins)) -ge $limit ]; then
		echo "gpu-tree: over the limit; restoring" >&2
		"$0" restore
		exit 1
	fi
	[ "$bins" -gt 0 ] || echo "gpu-tree: no bin/gpu yet (make gpu-bins)" >&2
	;;
restore)
	[ -e "$state" ] || { echo "gpu-tree: not slim" >&2; exit 1; }
	git reset -q
	rm -f "$exclude"
	[ -f "$state.exclude" ] && mv "$state.exclude" "$exclude"
	git checkout -q "$(cat "$state")"
	rm -f "$state"
	git status --short | head
	;;
*)
	echo "usage: $0 slim|restore" >&2
	exit 2
	;;
esac
