#!/bin/sh
# Installs qemu-aarch64-static (Debian's `qemu-user-static` package) so the
# arm64 test binaries, NEON kernels included, run on an amd64 host under
# user-mode emulation (make test-arm64). Idempotent and non-interactive:
# does nothing when qemu-aarch64-static is already on PATH.
set -eu

if command -v qemu-aarch64-static >/dev/null 2>&1; then
	echo "qemu-aarch64-static already installed: $(qemu-aarch64-static --version 2>/dev/null | head -n 1 || echo unknown version)"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-test-deps: no apt-get; install qemu-user-static (qemu-aarch64-static) by hand" >&2
	exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-test-deps: need root (or sudo) to apt-get install qemu-user-static" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-test-deps: apt-get update"
$SUDO apt-get update -q
echo "install-test-deps: apt-get install qemu-user-static"
$SUDO apt-get install -y -q --no-install-recommends qemu-user-static
echo "installed: $(qemu-aarch64-static --version 2>/dev/null | head -n 1 || echo qemu-aarch64-static)"
