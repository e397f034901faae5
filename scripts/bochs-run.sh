#!/usr/bin/env bash
# Runs a static linux/amd64 binary on an emulated AVX-512 CPU: Bochs boots
# Debian's cloud kernel from a throwaway ISO whose initramfs holds the
# binary and tools/bochsinit as /init. The host CPU needs no AVX-512; QEMU
# 7.2 (bookworm) cannot emulate it, Bochs 2.7 can.
#
#   scripts/bochs-run.sh BINARY [ARGS...]
#
# BINARY runs as the only process besides init, in /, with PATH=/bin,
# HOME=/root and TMPDIR=/tmp (a writable RAM root), 127.0.0.1 up and one
# CPU. Its stdout and stderr come out merged, on stdout (a missing final
# newline is added); bochs-run's own messages go to stderr. The script
# exits with the binary's exit status (128+N for signal N). Build it with
# CGO_ENABLED=0 (there is no libc in the guest), e.g.
#   CGO_ENABLED=0 go test -c -o /tmp/kernels.test ./kernels
#   BOCHS_ENV="DISTILBERT_KERNELS=avx512" scripts/bochs-run.sh /tmp/kernels.test -test.v
# Only the binary is copied in, plus the trees named by BOCHS_TREES.
# To check the emulator itself:
#   go build -o /tmp/bochsinit ./tools/bochsinit
#   scripts/bochs-run.sh /tmp/bochsinit cpuid      # features as Go sees them
#   scripts/bochs-run.sh /tmp/bochsinit selftest   # AVX-512 and ZMM state
#
# Environment:
#   BOCHS_ENV      NAME=VALUE words (split on whitespace, so values without
#                  spaces) added to the binary's environment; a GODEBUG
#                  here is appended to BOCHS_GODEBUG, not replacing it
#   BOCHS_TIMEOUT  seconds, boot included, before giving up (default 3600):
#                  exit status 124
#   BOCHS_CPU      Bochs CPU model (default tigerlake: AVX512 F/CD/BW/DQ/VL,
#                  VNNI, IFMA, VBMI/VBMI2, BITALG, VPOPCNTDQ, VP2INTERSECT,
#                  GFNI, VAES; corei7_icelake_u lacks VP2INTERSECT,
#                  corei7_skylake_x has F/CD/BW/DQ/VL only)
#   BOCHS_GODEBUG  GODEBUG for the binary (default cpu.avx512dq=off: Bochs
#                  2.7 computes VGF2P8AFFINEQB wrongly and Go's garbage
#                  collector uses it on CPUs with GFNI and AVX-512 VBMI, so
#                  Go's runtime must not take its AVX-512 paths; the
#                  binary's own cpuid checks, x/sys/cpu and klauspost/cpuid,
#                  are not affected). Empty: no workaround.
#   BOCHS_TREES    HOSTDIR=GUESTDIR words: directory trees copied into the
#                  guest (e.g. testdata=/testdata for tests that read it)
#   BOCHS_DIR      the binary's working directory in the guest (default /)
#   BOCHS_MEGS     guest memory in MiB (default 1024)
#   BOCHS_IPS      Bochs' emulated instructions per second (default 60M,
#                  about its real speed here). It sets the timing of the
#                  emulated devices (serial line, PIT, RTC), not the speed;
#                  the guest clock is the TSC, one tick per instruction at
#                  the model's 2.4 GHz, so guest time runs ~50x slower than
#                  wall time (test timeouts and durations are guest time)
#   BOCHS_APPEND   more kernel command line
#   BOCHS_KERNEL   a bzImage to boot instead of the cached Debian one
#   BOCHS_VERBOSE  non-empty: show the guest's boot messages on stderr
#   BOCHS_KEEP     non-empty: keep the temporary directory (ISO, logs)
# The kernel is downloaded once (apt-get download, the version bookworm
# offers at the time) into ${XDG_CACHE_HOME:-~/.cache}/distilbert-bochs;
# delete that directory to refresh it. Exit status 125: the emulator or the
# guest failed before the binary finished (the console tail is shown).
# Needs: scripts/install-test-deps.sh bochs, and go.
set -eu

die() {
	echo "bochs-run: $*" >&2
	exit 125
}

[ $# -ge 1 ] || {
	sed -n '2,/^set -eu/p' "$0" | sed '$d' >&2
	exit 2
}
bin=$1
shift
[ -f "$bin" ] || die "no such file: $bin"
repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/distilbert-bochs
cpu=${BOCHS_CPU:-tigerlake}
megs=${BOCHS_MEGS:-1024}
ips=${BOCHS_IPS:-60000000}
timeout=${BOCHS_TIMEOUT:-3600}
godebug=${BOCHS_GODEBUG-cpu.avx512dq=off}
isolinux_bin=/usr/lib/ISOLINUX/isolinux.bin
ldlinux=/usr/lib/syslinux/modules/bios/ldlinux.c32
bios=/usr/share/bochs/BIOS-bochs-latest
vgabios=/usr/share/vgabios/vgabios.bin

for f in "$isolinux_bin" "$ldlinux" "$bios" "$vgabios"; do
	[ -f "$f" ] || die "missing $f: run scripts/install-test-deps.sh bochs"
done
for c in bochs-bin xorriso "${GO:-go}"; do
	command -v "$c" >/dev/null 2>&1 || die "missing $c: run scripts/install-test-deps.sh bochs"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bochs-run.XXXXXX")
if [ -n "${BOCHS_KEEP:-}" ]; then
	echo "bochs-run: keeping $tmp" >&2
else
	trap 'rm -rf "$tmp"' EXIT
fi

# The cloud flavour: fewer drivers to probe at boot than the generic one.
kernel=${BOCHS_KERNEL:-$cache/vmlinuz}
if [ ! -s "$kernel" ]; then
	[ -z "${BOCHS_KERNEL:-}" ] || die "no such kernel: $kernel"
	resolve() {
		apt-cache depends linux-image-cloud-amd64 2>/dev/null |
			awk '$1 ~ /Depends:$/ && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
	}
	pkg=$(resolve)
	if [ -z "$pkg" ]; then
		# No package lists yet (a fresh machine whose tools were preinstalled).
		sudo=""
		[ "$(id -u)" -eq 0 ] || sudo=sudo
		$sudo apt-get update -q >&2 || true
		pkg=$(resolve)
	fi
	[ -n "$pkg" ] || die "cannot resolve linux-image-cloud-amd64 (run apt-get update)"
	echo "bochs-run: downloading $pkg into $cache" >&2
	mkdir -p "$cache" "$tmp/deb"
	chmod 755 "$tmp" # apt's _apt sandbox user must reach the download dir
	chmod 777 "$tmp/deb"
	(cd "$tmp/deb" && apt-get download -q "$pkg") >"$tmp/apt.log" 2>&1 ||
		{ cat "$tmp/apt.log" >&2; die "apt-get download $pkg failed"; }
	dpkg-deb --fsys-tarfile "$tmp"/deb/*.deb | tar -x -C "$tmp/deb" --wildcards './boot/vmlinuz-*'
	# Rename into place: concurrent runs never see a partial kernel.
	cp "$tmp"/deb/boot/vmlinuz-* "$cache/vmlinuz.$$"
	echo "$pkg" >"$cache/vmlinuz.version"
	mv "$cache/vmlinuz.$$" "$kernel"
	rm -rf "$tmp/deb"
fi

(cd "$repo" && CGO_ENABLED=0 "${GO:-go}" build -trimpath -o "$tmp/bochsinit" ./tools/bochsinit)

nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
envargs=()
[ -z "$godebug" ] || envargs+=(-env "GODEBUG=$godebug")
set -f # BOCHS_ENV splits on whitespace, never globs
for kv in ${BOCHS_ENV:-}; do
	envargs+=(-env "$kv")
done
for tree in ${BOCHS_TREES:-}; do
	envargs+=(-tree "$tree")
done
set +f
[ -z "${BOCHS_DIR:-}" ] || envargs+=(-dir "$BOCHS_DIR")
"$tmp/bochsinit" initramfs -o "$tmp/initrd" -nonce "$nonce" "${envargs[@]}" "$bin" "$@"

# Kernel command line. Work around Bochs 2.7 bugs with the newer CPU
# models by hiding features from the kernel (user space still sees them):
# clearcpuid=321,323 (XSAVEC, XSAVES): Bochs reports the compacted XSAVE
# size wrongly and Linux 6.1 would then disable XSAVE, so AVX and AVX-512
# with it; the standard format works. 515,516 (PKU, OSPKE): PKRU has no
# CPUID size on icelake/tigerlake, same result. 580 (FSRM): the kernel's
# short-copy path makes the boot hang (a page-fault loop in early init).
# cryptomgr.notests: the crypto self-tests take half the boot.
# mitigations=off, nokaslr: less work under an emulator 100-300x slower
# than the host. quiet: only errors reach the console.
cmdline="console=ttyS0,115200 quiet mitigations=off nokaslr clearcpuid=321,323,515,516,580 cryptomgr.notests ${BOCHS_APPEND:-}"
mkdir "$tmp/isolinux"
cp "$isolinux_bin" "$ldlinux" "$tmp/isolinux/"
cat >"$tmp/isolinux/isolinux.cfg" <<EOF
DEFAULT run
PROMPT 0
LABEL run
  KERNEL /vmlinuz
  INITRD /initrd
  APPEND $cmdline
EOF
xorriso -as mkisofs -quiet -o "$tmp/boot.iso" -b isolinux/isolinux.bin -c isolinux/boot.cat \
	-no-emul-boot -boot-load-size 4 -boot-info-table \
	-graft-points isolinux="$tmp/isolinux" vmlinuz="$kernel" initrd="$tmp/initrd" \
	>"$tmp/xorriso.log" 2>&1 || { cat "$tmp/xorriso.log" >&2; die "xorriso failed"; }
rm "$tmp/initrd"

# Debian's Bochs has no nogui display; "term" draws on a pseudo-terminal
# of its own that nobody reads (hideIPS: nothing to redraw after boot).
# Stdin is /dev/null (bochsinit watch), panic=fatal and no reset on triple
# fault: Bochs never waits for a person and a dead guest ends it.
# sync=none: time follows instructions, never the host clock.
cat >"$tmp/bochsrc" <<EOF
config_interface: textconfig
display_library: term, options="hideIPS"
romimage: file=$bios
vgaromimage: file=$vgabios
cpu: model=$cpu, count=1, ips=$ips, reset_on_triple_fault=0
memory: guest=$megs, host=$megs
clock: sync=none, time0=local
ata0-master: type=cdrom, path=$tmp/boot.iso, status=inserted
boot: cdrom
floppy_bootsig_check: disabled=1
com1: enabled=1, mode=file, dev=$tmp/serial.log
mouse: enabled=0
speaker: enabled=0
sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy
log: $tmp/bochs.log
panic: action=fatal
error: action=report
info: action=ignore
debug: action=ignore
EOF
# Debian builds Bochs with its debugger, which stops before the first
# instruction for a command: continue.
echo c >"$tmp/debugger.rc"

# In the background so that a signal to this script reaches watch, which
# stops Bochs, before the temporary directory goes.
(cd "$tmp" && exec "$tmp/bochsinit" watch -serial "$tmp/serial.log" -nonce "$nonce" \
	-timeout "${timeout}s" -log "$tmp/bochs.log" ${BOCHS_VERBOSE:+-v} \
	-- env TERM=vt100 bochs-bin -q -rc "$tmp/debugger.rc" -f "$tmp/bochsrc") &
watch=$!
trap 'kill -TERM "$watch" 2>/dev/null || :' INT TERM HUP
status=0
wait "$watch" || status=$?
while kill -0 "$watch" 2>/dev/null; do # wait returned for a signal
	status=0
	wait "$watch" || status=$?
done
exit "$status"
