//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 micro-kernels: C[rows][32] = [Cin +] A[rows][k] · B[k][32], with
// A a packed 12-row group (k-major: the 12 row values of one k are
// adjacent, 48 bytes), B a packed 32-column panel ([k][32], 128 bytes per
// k), C rows ldc floats apart and Cin, unless nil, rows ldcin floats apart
// (Cin = C accumulates; another Cin is how the streaming order keeps the
// partial sums of a panel out of C until its last K slice). Row r
// accumulates in Z(2r), Z(2r+1); Z24/Z25 hold the B row, Z26/Z27 the
// broadcast A values (alternating, so consecutive rows do not wait on one
// register).
//
// Register use: CX k, BX loop count, SI a, DI b, DX c, R9 ldc in bytes,
// R10 prefetch pointer, R11 rows to store, R12 prefetch step, R8 cin
// (or C), R13 ldcin in bytes.

// BROW multiplies the B row by the A value at AOFF(SI) into C0, C1.
#define BROW(AOFF, BC, C0, C1) \
	VBROADCASTSS AOFF(SI), BC \
	VFMADD231PS  Z24, BC, C0  \
	VFMADD231PS  Z25, BC, C1

#define LOADB(BOFF) \
	VMOVUPS BOFF(DI), Z24 \
	VMOVUPS BOFF+64(DI), Z25

#define KSTEP4(BOFF, AOFF) \
	LOADB(BOFF)                 \
	BROW(AOFF, Z26, Z0, Z1)     \
	BROW(AOFF+4, Z27, Z2, Z3)   \
	BROW(AOFF+8, Z26, Z4, Z5)   \
	BROW(AOFF+12, Z27, Z6, Z7)

#define KSTEP8(BOFF, AOFF) \
	KSTEP4(BOFF, AOFF)          \
	BROW(AOFF+16, Z26, Z8, Z9)  \
	BROW(AOFF+20, Z27, Z10, Z11) \
	BROW(AOFF+24, Z26, Z12, Z13) \
	BROW(AOFF+28, Z27, Z14, Z15)

#define KSTEP12(BOFF, AOFF) \
	KSTEP8(BOFF, AOFF)           \
	BROW(AOFF+32, Z26, Z16, Z17) \
	BROW(AOFF+36, Z27, Z18, Z19) \
	BROW(AOFF+40, Z26, Z20, Z21) \
	BROW(AOFF+44, Z27, Z22, Z23)

// PREFETCH2 issues the two prefetches of one k, pfStep (R12) bytes apart:
// with pfStep 64, one B row of 128 bytes per k keeps pace with this call's
// own B stream; calls that share the next slice step less. Into L2, as the
// AVX2 kernels do (see gemm6x16AVX2).
#define PREFETCH2 \
	PREFETCHT1 (R10) \
	ADDQ       R12, R10 \
	PREFETCHT1 (R10) \
	ADDQ       R12, R10

#define ZERO4 \
	VPXORD Z0, Z0, Z0 \
	VPXORD Z1, Z1, Z1 \
	VPXORD Z2, Z2, Z2 \
	VPXORD Z3, Z3, Z3 \
	VPXORD Z4, Z4, Z4 \
	VPXORD Z5, Z5, Z5 \
	VPXORD Z6, Z6, Z6 \
	VPXORD Z7, Z7, Z7

#define ZERO8 \
	ZERO4                \
	VPXORD Z8, Z8, Z8    \
	VPXORD Z9, Z9, Z9    \
	VPXORD Z10, Z10, Z10 \
	VPXORD Z11, Z11, Z11 \
	VPXORD Z12, Z12, Z12 \
	VPXORD Z13, Z13, Z13 \
	VPXORD Z14, Z14, Z14 \
	VPXORD Z15, Z15, Z15

#define ZERO12 \
	ZERO8                \
	VPXORD Z16, Z16, Z16 \
	VPXORD Z17, Z17, Z17 \
	VPXORD Z18, Z18, Z18 \
	VPXORD Z19, Z19, Z19 \
	VPXORD Z20, Z20, Z20 \
	VPXORD Z21, Z21, Z21 \
	VPXORD Z22, Z22, Z22 \
	VPXORD Z23, Z23, Z23

// ARGS loads the arguments shared by every kernel. With cin, K1 is all
// ones and R8 walks cin's rows (R13 bytes apart); without, K1 is zero and
// R8 walks C's own rows: the merge-masked VADDPS of STROW then adds the
// source row or leaves the sum as is, without a branch per row (and never
// reads through nil).
#define ARGS \
	MOVQ    k+0(FP), CX      \
	MOVQ    rows+8(FP), R11  \
	MOVQ    a+16(FP), SI     \
	MOVQ    b+24(FP), DI     \
	MOVQ    c+32(FP), DX     \
	MOVQ    ldc+40(FP), R9   \
	SHLQ    $2, R9           \
	MOVQ    cin+48(FP), R8   \
	MOVQ    ldcin+56(FP), R13 \
	SHLQ    $2, R13          \
	XORL    AX, AX           \
	TESTQ   R8, R8           \
	SETNE   AL               \
	CMOVQEQ DX, R8           \
	CMOVQEQ R9, R13          \
	NEGL    AX               \
	KMOVW   AX, K1           \
	MOVQ    pf+64(FP), R10   \
	MOVQ    pfStep+72(FP), R12

// STROW stores one row of C (adding the source row when K1 is set), moves
// DX and R8 to the next rows and leaves through DONE when it was the last
// valid row.
#define STROW(C0, C1, DONE) \
	VADDPS  (R8), C0, K1, C0   \
	VADDPS  64(R8), C1, K1, C1 \
	VMOVUPS C0, (DX)           \
	VMOVUPS C1, 64(DX)         \
	ADDQ    R9, DX             \
	ADDQ    R13, R8            \
	DECQ    R11                \
	JZ      DONE

// func gemm12x32AVX512(k, rows int, a, b, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)
//
// The main kernel: 24 accumulators, 24 FMAs per 14 loads. Writes rows
// (1…12) rows of C; rows past them are computed from the zero padding of
// A and dropped. pf, unless nil, is the next B slice the caller will use:
// two lines of it are prefetched per k so that its memory traffic overlaps
// this call's arithmetic.
TEXT ·gemm12x32AVX512(SB), NOSPLIT, $0-80
	ARGS
	ZERO12
	MOVQ  CX, BX
	SHRQ  $1, BX
	JZ    tail12
	TESTQ R10, R10
	JZ    loop12np
	PCALIGN $64

loop12:
	PREFETCH2
	KSTEP12(0, 0)
	PREFETCH2
	KSTEP12(128, 48)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  loop12
	JMP  tail12
	PCALIGN $64

loop12np:
	KSTEP12(0, 0)
	KSTEP12(128, 48)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  loop12np

tail12:
	ANDQ $1, CX
	JZ   store12
	KSTEP12(0, 0)

store12:
	STROW(Z0, Z1, done12)
	STROW(Z2, Z3, done12)
	STROW(Z4, Z5, done12)
	STROW(Z6, Z7, done12)
	STROW(Z8, Z9, done12)
	STROW(Z10, Z11, done12)
	STROW(Z12, Z13, done12)
	STROW(Z14, Z15, done12)
	STROW(Z16, Z17, done12)
	STROW(Z18, Z19, done12)
	STROW(Z20, Z21, done12)
	STROW(Z22, Z23, done12)

done12:
	VZEROUPPER
	RET

// func gemm8x32AVX512(k, rows int, a, b, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)
//
// The 8-row variant for a partial last group (rows 1…8): the first 8
// values of each k of the same 12-wide packed A.
TEXT ·gemm8x32AVX512(SB), NOSPLIT, $0-80
	ARGS
	ZERO8
	TESTQ CX, CX
	JZ    store8
	TESTQ R10, R10
	JZ    loop8np
	PCALIGN $64

loop8:
	PREFETCH2
	KSTEP8(0, 0)
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop8
	JMP  store8
	PCALIGN $64

loop8np:
	KSTEP8(0, 0)
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop8np

store8:
	STROW(Z0, Z1, done8)
	STROW(Z2, Z3, done8)
	STROW(Z4, Z5, done8)
	STROW(Z6, Z7, done8)
	STROW(Z8, Z9, done8)
	STROW(Z10, Z11, done8)
	STROW(Z12, Z13, done8)
	STROW(Z14, Z15, done8)

done8:
	VZEROUPPER
	RET

// func gemm4x32AVX512(k, rows int, a, b, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)
//
// The 4-row variant (rows 1…4). Eight accumulators are too few to hide
// FMA latency fully, but a batch-1 request's last group and the [CLS]
// rows of the last layer are all it runs on.
TEXT ·gemm4x32AVX512(SB), NOSPLIT, $0-80
	ARGS
	ZERO4
	TESTQ CX, CX
	JZ    store4
	TESTQ R10, R10
	JZ    loop4np
	PCALIGN $64

loop4:
	PREFETCH2
	KSTEP4(0, 0)
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop4
	JMP  store4
	PCALIGN $64

loop4np:
	KSTEP4(0, 0)
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ CX
	JNZ  loop4np

store4:
	STROW(Z0, Z1, done4)
	STROW(Z2, Z3, done4)
	STROW(Z4, Z5, done4)
	STROW(Z6, Z7, done4)

done4:
	VZEROUPPER
	RET

// func fmaLoopAVX512(n int)
//
// n iterations of 24 independent 16-wide FMAs (768 flops): enough chains
// to hide FMA latency on two 512-bit FMA pipes, so it measures the core's
// fp32 peak with the instructions the kernels use.
TEXT ·fmaLoopAVX512(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	ZERO12
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	PCALIGN $64

fmaloop:
	VFMADD231PS Z24, Z25, Z0
	VFMADD231PS Z24, Z25, Z1
	VFMADD231PS Z24, Z25, Z2
	VFMADD231PS Z24, Z25, Z3
	VFMADD231PS Z24, Z25, Z4
	VFMADD231PS Z24, Z25, Z5
	VFMADD231PS Z24, Z25, Z6
	VFMADD231PS Z24, Z25, Z7
	VFMADD231PS Z24, Z25, Z8
	VFMADD231PS Z24, Z25, Z9
	VFMADD231PS Z24, Z25, Z10
	VFMADD231PS Z24, Z25, Z11
	VFMADD231PS Z24, Z25, Z12
	VFMADD231PS Z24, Z25, Z13
	VFMADD231PS Z24, Z25, Z14
	VFMADD231PS Z24, Z25, Z15
	VFMADD231PS Z24, Z25, Z16
	VFMADD231PS Z24, Z25, Z17
	VFMADD231PS Z24, Z25, Z18
	VFMADD231PS Z24, Z25, Z19
	VFMADD231PS Z24, Z25, Z20
	VFMADD231PS Z24, Z25, Z21
	VFMADD231PS Z24, Z25, Z22
	VFMADD231PS Z24, Z25, Z23
	DECQ CX
	JNZ  fmaloop
	VZEROUPPER
	RET
