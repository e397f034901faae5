#!/bin/sh
# Installs, from Debian's packages, what the tests use beyond Go, each only
# when its command is missing (idempotent, non-interactive, root or sudo):
#   qemu     qemu-aarch64-static (qemu-user-static): arm64 tests, NEON kernels
#   chromium chromium (+ fonts-dejavu-core): the browser test of the service page
#   bochs    bochs (+ its text display, BIOS images, isolinux, xorriso): the
#            AVX-512 tests on an emulated CPU (scripts/bochs-run.sh)
#   prometheus  prometheus + promtool: /metrics lint, rule unit tests, a live scrape
#   nginx    nginx: the compose file's load-balancer config in front of two services
#   podman   podman + runc: the image build and its read-only smoke test
#   redis    redis-server: the shared-cache tests of the service
#   cc       gcc, g++, clang and file: the cgo build of the cuda tag (make
#            vet, make check-cuda), kernels.cu's syntax test and its CUDA
#            compile to PTX (clang), the static-binary checks
# With no arguments it installs all but bochs (bochs only when named).
#   scripts/install-test-deps.sh [qemu] [chromium] [bochs] [prometheus] [nginx] [podman] [redis] [cc]
set -eu

[ $# -gt 0 ] || set -- qemu chromium prometheus nginx podman redis cc

# have WORDS: every word is a command on PATH or, starting with /, an
# existing file (a glob is fine).
have() {
	for w in $1; do
		case $w in
		/*) [ -e "$w" ] || return 1 ;;
		*) command -v "$w" >/dev/null 2>&1 || return 1 ;;
		esac
	done
}

missing=""
for want in "$@"; do
	case $want in
	qemu) cmd=qemu-aarch64-static pkgs=qemu-user-static ;;
	chromium) cmd=chromium pkgs="chromium fonts-dejavu-core" ;;
	# Debian's bochs has no headless display: bochs-term instead of the
	# default bochs-wx (lighter, and what bochs-run.sh configures).
	bochs)
		cmd="bochs-bin xorriso /usr/lib/*/bochs/plugins/libbx_term_gui.so
			/usr/share/bochs/BIOS-bochs-latest /usr/share/vgabios/vgabios.bin
			/usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32"
		pkgs="bochs bochs-term bochsbios vgabios isolinux syslinux-common xorriso" ;;
	prometheus) cmd="prometheus promtool" pkgs=prometheus ;;
	nginx) cmd=nginx pkgs=nginx ;;
	# runc, not Debian's default crun: deploy/podman/containers.conf names it.
	podman) cmd="podman runc" pkgs="podman runc" ;;
	redis) cmd=redis-server pkgs=redis-server ;;
	cc) cmd="gcc g++ clang file" pkgs="gcc g++ libc6-dev clang file" ;;
	*) echo "install-test-deps: unknown dependency '$want' (qemu, chromium, bochs, prometheus, nginx, podman, redis, cc)" >&2; exit 2 ;;
	esac
	if have "$cmd"; then
		echo "install-test-deps: ${cmd%% *} already installed"
	else
		missing="$missing $pkgs"
	fi
done
[ -n "$missing" ] || exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: no apt-get; install by hand:$missing" >&2
	exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-test-deps: need root (or sudo) to apt-get install$missing" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: apt-get update"
$SUDO apt-get update -q
echo "install-test-deps: apt-get install$missing"
# shellcheck disable=SC2086 # the package list is meant to split
$SUDO apt-get install -y -q --no-install-recommends $missing
