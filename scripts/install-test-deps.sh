#!/bin/sh
# Installs, from Debian's packages, what the tests use beyond Go, each only
# when its command is missing (idempotent, non-interactive, root or sudo):
#   qemu     qemu-aarch64-static (qemu-user-static): arm64 tests, NEON kernels
#   chromium chromium (+ fonts-dejavu-core): the browser test of the service page
# With no arguments it installs both.
#   scripts/install-test-deps.sh [qemu] [chromium]
set -eu

[ $# -gt 0 ] || set -- qemu chromium

missing=""
for want in "$@"; do
	case $want in
	qemu) cmd=qemu-aarch64-static pkgs=qemu-user-static ;;
	chromium) cmd=chromium pkgs="chromium fonts-dejavu-core" ;;
	*) echo "install-test-deps: unknown dependency '$want' (qemu, chromium)" >&2; exit 2 ;;
	esac
	if command -v "$cmd" >/dev/null 2>&1; then
		echo "install-test-deps: $cmd already installed"
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
