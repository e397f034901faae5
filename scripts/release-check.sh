#!/bin/sh
# Checks what `make release` wrote to DIST (default dist): SHA256SUMS
# matches, every binary is a CGO_ENABLED=0, -trimpath build for its
# platform (from the build settings Go records in it) holding its version
# (the linux ones statically linked and stripped, per file(1)), and the binaries
# this machine can run predict with the embedded model: linux/amd64 on an
# amd64 host, linux/arm64 natively or under qemu-aarch64-static.
#   scripts/release-check.sh [DIST] [VERSION]
set -eu

dist=${1:-dist}
version=${2:-}
GO=${GO:-go}
QEMU_ARM64=${QEMU_ARM64:-qemu-aarch64-static}
text="a gorgeous, witty, seductive movie"

fail() {
	echo "release-check: $*" >&2
	exit 1
}

[ -s "$dist/SHA256SUMS" ] || fail "no $dist/SHA256SUMS; run make release first"
(cd "$dist" && sha256sum --quiet -c SHA256SUMS) || fail "SHA256SUMS does not match"

want="linux-amd64 linux-arm64 darwin-arm64 windows-amd64"
for plat in $want; do
	os=${plat%-*} arch=${plat#*-} ext=""
	[ "$os" = windows ] && ext=.exe
	# One binary per platform, named distilbert-VERSION-OS-ARCH[.exe].
	set -- "$dist"/distilbert-*-"$plat$ext"
	[ $# -eq 1 ] && [ -f "$1" ] || fail "expected one $plat binary in $dist, found: $*"
	bin=$1
	grep -q " ${bin##*/}\$" "$dist/SHA256SUMS" || fail "${bin##*/} is not in SHA256SUMS"
	stamped=${bin##*/distilbert-}
	stamped=${stamped%-"$plat$ext"}
	[ -z "$version" ] || [ "$stamped" = "$version" ] || fail "${bin##*/}: named for version $stamped, want $version"
	info=$($GO version -m "$bin") || fail "$bin: not a Go binary"
	for setting in "CGO_ENABLED=0" "GOOS=$os" "GOARCH=$arch" "-trimpath=true"; do
		echo "$info" | grep -q -- "build[[:space:]]*$setting\$" || fail "${bin##*/}: build setting $setting missing"
	done
	# With -trimpath Go does not record -ldflags: look for the stamped
	# string itself (the runnable binaries also print it below).
	grep -a -q -F -- "$stamped" "$bin" || fail "${bin##*/}: version $stamped is not in the binary"
	if [ "$os" = linux ] && command -v file >/dev/null 2>&1; then
		kind=$(file -b "$bin")
		case $kind in *"statically linked"*) ;; *) fail "${bin##*/}: not statically linked: $kind" ;; esac
		case $kind in *"not stripped"* | *debug_info*) fail "${bin##*/}: not stripped: $kind" ;; esac
	fi
	echo "release-check: ${bin##*/}: CGO_ENABLED=0, -trimpath, $os/$arch, version $stamped"
done

# run PLATFORM CMD...: run the platform's binary with CMD prefixed, check it
# reports its version and classifies a text with the embedded model.
run() {
	plat=$1
	shift
	bin=$(ls "$dist"/distilbert-*-"$plat")
	stamped=${bin##*/distilbert-}
	stamped=${stamped%-"$plat"}
	out=$("$@" "$bin" version) || fail "$plat: version failed"
	[ "$out" = "distilbert $stamped" ] || fail "$plat: version says '$out', want 'distilbert $stamped'"
	out=$("$@" "$bin" predict "$text") || fail "$plat: predict failed"
	case $out in
	*'"label":"POSITIVE"'*) echo "release-check: $plat${1:+ under $1}: $out" ;;
	*) fail "$plat: predict answered '$out'" ;;
	esac
}

case $(uname -m) in
x86_64) run linux-amd64 ;;
aarch64 | arm64) run linux-arm64 ;;
esac
if [ "$(uname -m)" != aarch64 ] && [ "$(uname -m)" != arm64 ]; then
	command -v "$QEMU_ARM64" >/dev/null 2>&1 || fail "$QEMU_ARM64 not found (scripts/install-test-deps.sh qemu)"
	run linux-arm64 "$QEMU_ARM64"
fi
echo "release-check: ok"
