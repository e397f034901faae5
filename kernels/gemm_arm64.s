//go:build arm64 && !purego

#include "textflag.h"
#include "neon_arm64.h"

// FMLA_ELEM(d, n, m, i) is
//
//	FMLA Vd.4S, Vn.4S, Vm.S[i]
//
// (fused multiply-add by element, single precision, 128-bit), which Go's
// assembler has no mnemonic for. Encoding (Arm ARM C7.2.109, "FMLA (by
// element)", Q=1, U=0, sz=0): 0x4F801000 | L<<21 | M:Rm<<16 | H<<11 |
// Rn<<5 | Rd, where the lane index i = H:L and M:Rm is the five-bit
// register number m (any of V0-V31 for .S lanes).
// Example: FMLA_ELEM(0, 24, 27, 0) = WORD $0x4F9B1300.
#define FMLA_ELEM(d, n, m, i) WORD $(0x4F801000 | (((i)&1)<<21) | ((m)<<16) | (((i)>>1)<<11) | ((n)<<5) | (d))

// KSTEP does one k of the 8×12 micro-kernel: loads B[k][0:12] into
// V24-V26 and A[k][0:8] into V27 (rows 0-3) and V28 (rows 4-7), then
// V(3r+c) += V(24+c) · A[r] for the 8 rows r and 3 column quads c.
#define KSTEP \
	VLD1.P 48(R1), [V24.S4, V25.S4, V26.S4]; \
	VLD1.P 32(R0), [V27.S4, V28.S4]; \
	FMLA_ELEM(0, 24, 27, 0); \
	FMLA_ELEM(1, 25, 27, 0); \
	FMLA_ELEM(2, 26, 27, 0); \
	FMLA_ELEM(3, 24, 27, 1); \
	FMLA_ELEM(4, 25, 27, 1); \
	FMLA_ELEM(5, 26, 27, 1); \
	FMLA_ELEM(6, 24, 27, 2); \
	FMLA_ELEM(7, 25, 27, 2); \
	FMLA_ELEM(8, 26, 27, 2); \
	FMLA_ELEM(9, 24, 27, 3); \
	FMLA_ELEM(10, 25, 27, 3); \
	FMLA_ELEM(11, 26, 27, 3); \
	FMLA_ELEM(12, 24, 28, 0); \
	FMLA_ELEM(13, 25, 28, 0); \
	FMLA_ELEM(14, 26, 28, 0); \
	FMLA_ELEM(15, 24, 28, 1); \
	FMLA_ELEM(16, 25, 28, 1); \
	FMLA_ELEM(17, 26, 28, 1); \
	FMLA_ELEM(18, 24, 28, 2); \
	FMLA_ELEM(19, 25, 28, 2); \
	FMLA_ELEM(20, 26, 28, 2); \
	FMLA_ELEM(21, 24, 28, 3); \
	FMLA_ELEM(22, 25, 28, 3); \
	FMLA_ELEM(23, 26, 28, 3)

// func gemm8x12NEON(k int, a *float32, b *float32, c *float32, ldc int, cin *float32, ldcin int)
//
// C[8][12] = [Cin +] A[8][k] · B[k][12], with A packed k-major ([k][8]:
// the eight row values of one k are adjacent), B a packed panel ([k][12]),
// C rows ldc floats apart and Cin, unless nil, rows ldcin floats apart
// (Cin = C accumulates). The 24 accumulators V0-V23 hold the 8×12 block,
// row r in V(3r), V(3r+1), V(3r+2). With Cin, they start from it (so
// Cin + Σ is one FMA chain per element), else from zero. Unrolled by two.
TEXT ·gemm8x12NEON(SB), NOSPLIT, $0-56
	MOVD k+0(FP), R3
	MOVD a+8(FP), R0
	MOVD b+16(FP), R1
	MOVD c+24(FP), R2
	MOVD ldc+32(FP), R4
	LSL  $2, R4, R4                // row stride in bytes
	MOVD cin+40(FP), R5
	MOVD ldcin+48(FP), R6
	LSL  $2, R6, R6

	CBZ R5, zero
	VLD1.P (R5)(R6), [V0.S4, V1.S4, V2.S4]
	VLD1.P (R5)(R6), [V3.S4, V4.S4, V5.S4]
	VLD1.P (R5)(R6), [V6.S4, V7.S4, V8.S4]
	VLD1.P (R5)(R6), [V9.S4, V10.S4, V11.S4]
	VLD1.P (R5)(R6), [V12.S4, V13.S4, V14.S4]
	VLD1.P (R5)(R6), [V15.S4, V16.S4, V17.S4]
	VLD1.P (R5)(R6), [V18.S4, V19.S4, V20.S4]
	VLD1   (R5), [V21.S4, V22.S4, V23.S4]
	B      loopstart

zero:
	ZERO_V0_V23

loopstart:
	LSR $1, R3, R7                 // R7 = k/2 double steps
	CBZ R7, tail

loop2:
	KSTEP
	KSTEP
	SUBS $1, R7, R7
	BNE  loop2

tail:
	TBZ $0, R3, store              // k even: done
	KSTEP

store:
	VST1.P [V0.S4, V1.S4, V2.S4], (R2)(R4)
	VST1.P [V3.S4, V4.S4, V5.S4], (R2)(R4)
	VST1.P [V6.S4, V7.S4, V8.S4], (R2)(R4)
	VST1.P [V9.S4, V10.S4, V11.S4], (R2)(R4)
	VST1.P [V12.S4, V13.S4, V14.S4], (R2)(R4)
	VST1.P [V15.S4, V16.S4, V17.S4], (R2)(R4)
	VST1.P [V18.S4, V19.S4, V20.S4], (R2)(R4)
	VST1   [V21.S4, V22.S4, V23.S4], (R2)
	RET

// func fmaLoopNEON(n int)
//
// n iterations of 24 independent 4-wide FMAs (192 flops): enough chains to
// hide a 4-cycle FMA latency on up to four 128-bit FMA pipes, the widest
// arm64 cores have, so it measures the core's fp32 peak.
TEXT ·fmaLoopNEON(SB), NOSPLIT, $0-8
	MOVD n+0(FP), R0
	ZERO_V0_V23
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16
	CBZ  R0, done

fmaloop:
	VFMLA V30.S4, V31.S4, V0.S4
	VFMLA V30.S4, V31.S4, V1.S4
	VFMLA V30.S4, V31.S4, V2.S4
	VFMLA V30.S4, V31.S4, V3.S4
	VFMLA V30.S4, V31.S4, V4.S4
	VFMLA V30.S4, V31.S4, V5.S4
	VFMLA V30.S4, V31.S4, V6.S4
	VFMLA V30.S4, V31.S4, V7.S4
	VFMLA V30.S4, V31.S4, V8.S4
	VFMLA V30.S4, V31.S4, V9.S4
	VFMLA V30.S4, V31.S4, V10.S4
	VFMLA V30.S4, V31.S4, V11.S4
	VFMLA V30.S4, V31.S4, V12.S4
	VFMLA V30.S4, V31.S4, V13.S4
	VFMLA V30.S4, V31.S4, V14.S4
	VFMLA V30.S4, V31.S4, V15.S4
	VFMLA V30.S4, V31.S4, V16.S4
	VFMLA V30.S4, V31.S4, V17.S4
	VFMLA V30.S4, V31.S4, V18.S4
	VFMLA V30.S4, V31.S4, V19.S4
	VFMLA V30.S4, V31.S4, V20.S4
	VFMLA V30.S4, V31.S4, V21.S4
	VFMLA V30.S4, V31.S4, V22.S4
	VFMLA V30.S4, V31.S4, V23.S4
	SUBS  $1, R0, R0
	BNE   fmaloop

done:
	RET

// FADD_S4(d, n, m) is FADD Vd.4S, Vn.4S, Vm.4S, which Go's assembler has no
// mnemonic for: 0x4E20D400 | Rm<<16 | Rn<<5 | Rd (Arm ARM C7.2.80, Q=1, sz=0).
#define FADD_S4(d, n, m) WORD $(0x4E20D400 | ((m)<<16) | ((n)<<5) | (d))

// FADDP_S4(d, n, m) is FADDP Vd.4S, Vn.4S, Vm.4S (pairwise add):
// 0x6E20D400 | Rm<<16 | Rn<<5 | Rd (Arm ARM C7.2.82, Q=1, sz=0).
#define FADDP_S4(d, n, m) WORD $(0x6E20D400 | ((m)<<16) | ((n)<<5) | (d))

// FADDP_S2S(d, n) is the scalar FADDP Sd, Vn.2S: 0x7E30D800 | Rn<<5 | Rd
// (Arm ARM C7.2.81, sz=0).
#define FADDP_S2S(d, n) WORD $(0x7E30D800 | ((n)<<5) | (d))

// func dot16NEON(a *float32, b *float32, blocks int) float32
//
// Σ a[i]·b[i] over 16·blocks elements (blocks ≥ 1) in four 4-wide
// accumulators, reduced as ((acc0+acc1)+(acc2+acc3)) then pairwise.
TEXT ·dot16NEON(SB), NOSPLIT, $0-28
	MOVD a+0(FP), R0
	MOVD b+8(FP), R1
	MOVD blocks+16(FP), R2
	VEOR V16.B16, V16.B16, V16.B16
	VEOR V17.B16, V17.B16, V17.B16
	VEOR V18.B16, V18.B16, V18.B16
	VEOR V19.B16, V19.B16, V19.B16

dotloop:
	VLD1.P 64(R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VFMLA  V0.S4, V4.S4, V16.S4
	VFMLA  V1.S4, V5.S4, V17.S4
	VFMLA  V2.S4, V6.S4, V18.S4
	VFMLA  V3.S4, V7.S4, V19.S4
	SUBS   $1, R2, R2
	BNE    dotloop

	FADD_S4(16, 16, 17)   // FADD V16.4S, V16.4S, V17.4S
	FADD_S4(18, 18, 19)   // FADD V18.4S, V18.4S, V19.4S
	FADD_S4(16, 16, 18)   // FADD V16.4S, V16.4S, V18.4S
	FADDP_S4(16, 16, 16)  // FADDP V16.4S, V16.4S, V16.4S
	FADDP_S2S(16, 16)     // FADDP S16, V16.2S
	FMOVS  F16, ret+24(FP)
	RET

// func axpy16NEON(alpha float32, x *float32, y *float32, blocks int)
//
// y[i] += alpha·x[i] over 16·blocks elements (blocks ≥ 1), one fused
// multiply-add per element, as the compiler's fused generic loop does.
TEXT ·axpy16NEON(SB), NOSPLIT, $0-32
	FMOVS alpha+0(FP), F0
	VDUP  V0.S[0], V0.S4
	MOVD  x+8(FP), R0
	MOVD  y+16(FP), R1
	MOVD  blocks+24(FP), R2

axpyloop:
	VLD1.P 64(R0), [V1.S4, V2.S4, V3.S4, V4.S4]
	VLD1   (R1), [V5.S4, V6.S4, V7.S4, V8.S4]
	VFMLA  V0.S4, V1.S4, V5.S4
	VFMLA  V0.S4, V2.S4, V6.S4
	VFMLA  V0.S4, V3.S4, V7.S4
	VFMLA  V0.S4, V4.S4, V8.S4
	VST1.P [V5.S4, V6.S4, V7.S4, V8.S4], 64(R1)
	SUBS   $1, R2, R2
	BNE    axpyloop
	RET
