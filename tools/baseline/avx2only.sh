#!/bin/sh
# avx2only.sh SO CMD [ARG...]: runs CMD as on a CPU without AVX-512, under
# avx2only.so (built from avx2only.c) at SO. glibc picks its string
# functions before the library loads, so a tunable keeps those off AVX-512.
# An executable rather than a shell function so that taskset can run it.
so=$1
shift
LD_PRELOAD=$so GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,-AVX512CD exec "$@"
