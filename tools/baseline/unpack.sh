# Sourced by the offline scripts: unpack_bins DIR unpacks every DIR/*.xz
# beside itself (once) and makes it executable, with xz or, on a machine
# without it, Python's lzma ($PYTHON, default python3).
unpack_bins() {
	local f
	for f in "$1"/*.xz; do
		[ -e "$f" ] || continue
		[ -e "${f%.xz}" ] || xz -dkc "$f" >"${f%.xz}" 2>/dev/null ||
			"${PYTHON:-python3}" -c 'import lzma,sys; open(sys.argv[2],"wb").write(lzma.open(sys.argv[1]).read())' "$f" "${f%.xz}"
		chmod +x "${f%.xz}"
	done
}
