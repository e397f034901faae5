#!/bin/sh
# Installs headless Chromium (Debian's `chromium` package) for the browser
# test of the service's page (make test-browser). Idempotent and
# non-interactive: does nothing when chromium is already on PATH.
set -eu

if command -v chromium >/dev/null 2>&1; then
	echo "chromium already installed: $(chromium --version 2>/dev/null || echo unknown version)"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-browser-deps: need root (or sudo) to apt-get install chromium" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
echo "installed: $(chromium --version 2>/dev/null || echo chromium)"
