//go:build amd64 && !purego

#include "textflag.h"

// Vector exp for the AVX2 and AVX-512 implementations. Each
// constant is replicated 8 times so it can be a 256-bit memory operand.
DATA mathc<>+0(SB)/4, $0x42b0c0a5
DATA mathc<>+4(SB)/4, $0x42b0c0a5
DATA mathc<>+8(SB)/4, $0x42b0c0a5
DATA mathc<>+12(SB)/4, $0x42b0c0a5
DATA mathc<>+16(SB)/4, $0x42b0c0a5
DATA mathc<>+20(SB)/4, $0x42b0c0a5
DATA mathc<>+24(SB)/4, $0x42b0c0a5
DATA mathc<>+28(SB)/4, $0x42b0c0a5
DATA mathc<>+32(SB)/4, $0xc2aeac4f
DATA mathc<>+36(SB)/4, $0xc2aeac4f
DATA mathc<>+40(SB)/4, $0xc2aeac4f
DATA mathc<>+44(SB)/4, $0xc2aeac4f
DATA mathc<>+48(SB)/4, $0xc2aeac4f
DATA mathc<>+52(SB)/4, $0xc2aeac4f
DATA mathc<>+56(SB)/4, $0xc2aeac4f
DATA mathc<>+60(SB)/4, $0xc2aeac4f
DATA mathc<>+64(SB)/4, $0x3fb8aa3b
DATA mathc<>+68(SB)/4, $0x3fb8aa3b
DATA mathc<>+72(SB)/4, $0x3fb8aa3b
DATA mathc<>+76(SB)/4, $0x3fb8aa3b
DATA mathc<>+80(SB)/4, $0x3fb8aa3b
DATA mathc<>+84(SB)/4, $0x3fb8aa3b
DATA mathc<>+88(SB)/4, $0x3fb8aa3b
DATA mathc<>+92(SB)/4, $0x3fb8aa3b
DATA mathc<>+96(SB)/4, $0x3f318000
DATA mathc<>+100(SB)/4, $0x3f318000
DATA mathc<>+104(SB)/4, $0x3f318000
DATA mathc<>+108(SB)/4, $0x3f318000
DATA mathc<>+112(SB)/4, $0x3f318000
DATA mathc<>+116(SB)/4, $0x3f318000
DATA mathc<>+120(SB)/4, $0x3f318000
DATA mathc<>+124(SB)/4, $0x3f318000
DATA mathc<>+128(SB)/4, $0xb95e8083
DATA mathc<>+132(SB)/4, $0xb95e8083
DATA mathc<>+136(SB)/4, $0xb95e8083
DATA mathc<>+140(SB)/4, $0xb95e8083
DATA mathc<>+144(SB)/4, $0xb95e8083
DATA mathc<>+148(SB)/4, $0xb95e8083
DATA mathc<>+152(SB)/4, $0xb95e8083
DATA mathc<>+156(SB)/4, $0xb95e8083
DATA mathc<>+160(SB)/4, $0x39506967
DATA mathc<>+164(SB)/4, $0x39506967
DATA mathc<>+168(SB)/4, $0x39506967
DATA mathc<>+172(SB)/4, $0x39506967
DATA mathc<>+176(SB)/4, $0x39506967
DATA mathc<>+180(SB)/4, $0x39506967
DATA mathc<>+184(SB)/4, $0x39506967
DATA mathc<>+188(SB)/4, $0x39506967
DATA mathc<>+192(SB)/4, $0x3ab743ce
DATA mathc<>+196(SB)/4, $0x3ab743ce
DATA mathc<>+200(SB)/4, $0x3ab743ce
DATA mathc<>+204(SB)/4, $0x3ab743ce
DATA mathc<>+208(SB)/4, $0x3ab743ce
DATA mathc<>+212(SB)/4, $0x3ab743ce
DATA mathc<>+216(SB)/4, $0x3ab743ce
DATA mathc<>+220(SB)/4, $0x3ab743ce
DATA mathc<>+224(SB)/4, $0x3c088908
DATA mathc<>+228(SB)/4, $0x3c088908
DATA mathc<>+232(SB)/4, $0x3c088908
DATA mathc<>+236(SB)/4, $0x3c088908
DATA mathc<>+240(SB)/4, $0x3c088908
DATA mathc<>+244(SB)/4, $0x3c088908
DATA mathc<>+248(SB)/4, $0x3c088908
DATA mathc<>+252(SB)/4, $0x3c088908
DATA mathc<>+256(SB)/4, $0x3d2aa9c1
DATA mathc<>+260(SB)/4, $0x3d2aa9c1
DATA mathc<>+264(SB)/4, $0x3d2aa9c1
DATA mathc<>+268(SB)/4, $0x3d2aa9c1
DATA mathc<>+272(SB)/4, $0x3d2aa9c1
DATA mathc<>+276(SB)/4, $0x3d2aa9c1
DATA mathc<>+280(SB)/4, $0x3d2aa9c1
DATA mathc<>+284(SB)/4, $0x3d2aa9c1
DATA mathc<>+288(SB)/4, $0x3e2aaaaa
DATA mathc<>+292(SB)/4, $0x3e2aaaaa
DATA mathc<>+296(SB)/4, $0x3e2aaaaa
DATA mathc<>+300(SB)/4, $0x3e2aaaaa
DATA mathc<>+304(SB)/4, $0x3e2aaaaa
DATA mathc<>+308(SB)/4, $0x3e2aaaaa
DATA mathc<>+312(SB)/4, $0x3e2aaaaa
DATA mathc<>+316(SB)/4, $0x3e2aaaaa
DATA mathc<>+320(SB)/4, $0x3f000000
DATA mathc<>+324(SB)/4, $0x3f000000
DATA mathc<>+328(SB)/4, $0x3f000000
DATA mathc<>+332(SB)/4, $0x3f000000
DATA mathc<>+336(SB)/4, $0x3f000000
DATA mathc<>+340(SB)/4, $0x3f000000
DATA mathc<>+344(SB)/4, $0x3f000000
DATA mathc<>+348(SB)/4, $0x3f000000
DATA mathc<>+352(SB)/4, $0x3f800000
DATA mathc<>+356(SB)/4, $0x3f800000
DATA mathc<>+360(SB)/4, $0x3f800000
DATA mathc<>+364(SB)/4, $0x3f800000
DATA mathc<>+368(SB)/4, $0x3f800000
DATA mathc<>+372(SB)/4, $0x3f800000
DATA mathc<>+376(SB)/4, $0x3f800000
DATA mathc<>+380(SB)/4, $0x3f800000
DATA mathc<>+384(SB)/4, $0x0000007f
DATA mathc<>+388(SB)/4, $0x0000007f
DATA mathc<>+392(SB)/4, $0x0000007f
DATA mathc<>+396(SB)/4, $0x0000007f
DATA mathc<>+400(SB)/4, $0x0000007f
DATA mathc<>+404(SB)/4, $0x0000007f
DATA mathc<>+408(SB)/4, $0x0000007f
DATA mathc<>+412(SB)/4, $0x0000007f
GLOBL mathc<>(SB), RODATA|NOPTR, $416

// GELU's constants, each replicated 8 times (see geluAVX2): erf(u) on
// [0, C] is u·P(u²)/Q(u²), P of degree 6 (p6…p0) and Q of degree 4
// (q4…q0), a rational fit minimising the absolute error (≤ 5e-8 in exact
// arithmetic; ≤ 2e-7 for Φ as evaluated in float32). tools/erffit/erffit.py
// fits them, checks the float32 evaluation and prints these words.
// +0: rsqrt2 (1/√2)
DATA geluc<>+0(SB)/4, $0x3f3504f3
DATA geluc<>+4(SB)/4, $0x3f3504f3
DATA geluc<>+8(SB)/4, $0x3f3504f3
DATA geluc<>+12(SB)/4, $0x3f3504f3
DATA geluc<>+16(SB)/4, $0x3f3504f3
DATA geluc<>+20(SB)/4, $0x3f3504f3
DATA geluc<>+24(SB)/4, $0x3f3504f3
DATA geluc<>+28(SB)/4, $0x3f3504f3
// +32: C (C = 3.92: erf(C) rounds to 1 in float32)
DATA geluc<>+32(SB)/4, $0x407ae148
DATA geluc<>+36(SB)/4, $0x407ae148
DATA geluc<>+40(SB)/4, $0x407ae148
DATA geluc<>+44(SB)/4, $0x407ae148
DATA geluc<>+48(SB)/4, $0x407ae148
DATA geluc<>+52(SB)/4, $0x407ae148
DATA geluc<>+56(SB)/4, $0x407ae148
DATA geluc<>+60(SB)/4, $0x407ae148
// +64: negC (−C·√2)
DATA geluc<>+64(SB)/4, $0xc0b16622
DATA geluc<>+68(SB)/4, $0xc0b16622
DATA geluc<>+72(SB)/4, $0xc0b16622
DATA geluc<>+76(SB)/4, $0xc0b16622
DATA geluc<>+80(SB)/4, $0xc0b16622
DATA geluc<>+84(SB)/4, $0xc0b16622
DATA geluc<>+88(SB)/4, $0xc0b16622
DATA geluc<>+92(SB)/4, $0xc0b16622
// +96: p6
DATA geluc<>+96(SB)/4, $0x32ab1b4f
DATA geluc<>+100(SB)/4, $0x32ab1b4f
DATA geluc<>+104(SB)/4, $0x32ab1b4f
DATA geluc<>+108(SB)/4, $0x32ab1b4f
DATA geluc<>+112(SB)/4, $0x32ab1b4f
DATA geluc<>+116(SB)/4, $0x32ab1b4f
DATA geluc<>+120(SB)/4, $0x32ab1b4f
DATA geluc<>+124(SB)/4, $0x32ab1b4f
// +128: p5
DATA geluc<>+128(SB)/4, $0xb605d4a6
DATA geluc<>+132(SB)/4, $0xb605d4a6
DATA geluc<>+136(SB)/4, $0xb605d4a6
DATA geluc<>+140(SB)/4, $0xb605d4a6
DATA geluc<>+144(SB)/4, $0xb605d4a6
DATA geluc<>+148(SB)/4, $0xb605d4a6
DATA geluc<>+152(SB)/4, $0xb605d4a6
DATA geluc<>+156(SB)/4, $0xb605d4a6
// +160: p4
DATA geluc<>+160(SB)/4, $0x391c3bf0
DATA geluc<>+164(SB)/4, $0x391c3bf0
DATA geluc<>+168(SB)/4, $0x391c3bf0
DATA geluc<>+172(SB)/4, $0x391c3bf0
DATA geluc<>+176(SB)/4, $0x391c3bf0
DATA geluc<>+180(SB)/4, $0x391c3bf0
DATA geluc<>+184(SB)/4, $0x391c3bf0
DATA geluc<>+188(SB)/4, $0x391c3bf0
// +192: p3
DATA geluc<>+192(SB)/4, $0x3b823478
DATA geluc<>+196(SB)/4, $0x3b823478
DATA geluc<>+200(SB)/4, $0x3b823478
DATA geluc<>+204(SB)/4, $0x3b823478
DATA geluc<>+208(SB)/4, $0x3b823478
DATA geluc<>+212(SB)/4, $0x3b823478
DATA geluc<>+216(SB)/4, $0x3b823478
DATA geluc<>+220(SB)/4, $0x3b823478
// +224: p2
DATA geluc<>+224(SB)/4, $0x3d528879
DATA geluc<>+228(SB)/4, $0x3d528879
DATA geluc<>+232(SB)/4, $0x3d528879
DATA geluc<>+236(SB)/4, $0x3d528879
DATA geluc<>+240(SB)/4, $0x3d528879
DATA geluc<>+244(SB)/4, $0x3d528879
DATA geluc<>+248(SB)/4, $0x3d528879
DATA geluc<>+252(SB)/4, $0x3d528879
// +256: p1
DATA geluc<>+256(SB)/4, $0x3e5313f8
DATA geluc<>+260(SB)/4, $0x3e5313f8
DATA geluc<>+264(SB)/4, $0x3e5313f8
DATA geluc<>+268(SB)/4, $0x3e5313f8
DATA geluc<>+272(SB)/4, $0x3e5313f8
DATA geluc<>+276(SB)/4, $0x3e5313f8
DATA geluc<>+280(SB)/4, $0x3e5313f8
DATA geluc<>+284(SB)/4, $0x3e5313f8
// +288: p0
DATA geluc<>+288(SB)/4, $0x3f906eb7
DATA geluc<>+292(SB)/4, $0x3f906eb7
DATA geluc<>+296(SB)/4, $0x3f906eb7
DATA geluc<>+300(SB)/4, $0x3f906eb7
DATA geluc<>+304(SB)/4, $0x3f906eb7
DATA geluc<>+308(SB)/4, $0x3f906eb7
DATA geluc<>+312(SB)/4, $0x3f906eb7
DATA geluc<>+316(SB)/4, $0x3f906eb7
// +320: q4
DATA geluc<>+320(SB)/4, $0x3a864068
DATA geluc<>+324(SB)/4, $0x3a864068
DATA geluc<>+328(SB)/4, $0x3a864068
DATA geluc<>+332(SB)/4, $0x3a864068
DATA geluc<>+336(SB)/4, $0x3a864068
DATA geluc<>+340(SB)/4, $0x3a864068
DATA geluc<>+344(SB)/4, $0x3a864068
DATA geluc<>+348(SB)/4, $0x3a864068
// +352: q3
DATA geluc<>+352(SB)/4, $0x3c73f80a
DATA geluc<>+356(SB)/4, $0x3c73f80a
DATA geluc<>+360(SB)/4, $0x3c73f80a
DATA geluc<>+364(SB)/4, $0x3c73f80a
DATA geluc<>+368(SB)/4, $0x3c73f80a
DATA geluc<>+372(SB)/4, $0x3c73f80a
DATA geluc<>+376(SB)/4, $0x3c73f80a
DATA geluc<>+380(SB)/4, $0x3c73f80a
// +384: q2
DATA geluc<>+384(SB)/4, $0x3df0c95f
DATA geluc<>+388(SB)/4, $0x3df0c95f
DATA geluc<>+392(SB)/4, $0x3df0c95f
DATA geluc<>+396(SB)/4, $0x3df0c95f
DATA geluc<>+400(SB)/4, $0x3df0c95f
DATA geluc<>+404(SB)/4, $0x3df0c95f
DATA geluc<>+408(SB)/4, $0x3df0c95f
DATA geluc<>+412(SB)/4, $0x3df0c95f
// +416: q1
DATA geluc<>+416(SB)/4, $0x3f041911
DATA geluc<>+420(SB)/4, $0x3f041911
DATA geluc<>+424(SB)/4, $0x3f041911
DATA geluc<>+428(SB)/4, $0x3f041911
DATA geluc<>+432(SB)/4, $0x3f041911
DATA geluc<>+436(SB)/4, $0x3f041911
DATA geluc<>+440(SB)/4, $0x3f041911
DATA geluc<>+444(SB)/4, $0x3f041911
// +448: q0
DATA geluc<>+448(SB)/4, $0x3f800000
DATA geluc<>+452(SB)/4, $0x3f800000
DATA geluc<>+456(SB)/4, $0x3f800000
DATA geluc<>+460(SB)/4, $0x3f800000
DATA geluc<>+464(SB)/4, $0x3f800000
DATA geluc<>+468(SB)/4, $0x3f800000
DATA geluc<>+472(SB)/4, $0x3f800000
DATA geluc<>+476(SB)/4, $0x3f800000
GLOBL geluc<>(SB), RODATA|NOPTR, $480

// EXP(X) computes exp(X) in place, X a YMM register, with the Cephes expf
// method: X = n·ln2 + r, |r| ≤ ln2/2, exp(r) by a degree-7 polynomial,
// 2^n by building the float's exponent. Relative error ~1e-7. Inputs below
// -87.3 give exactly 0 (as float32 exp underflows), so masked scores of
// -MaxFloat32 vanish exactly. Clobbers Y10-Y14.
#define EXP(X) \
	VCMPPS       $1, mathc<>+32(SB), X, Y14 \
	VMINPS       mathc<>+0(SB), X, X \
	VMAXPS       mathc<>+32(SB), X, X \
	VMULPS       mathc<>+64(SB), X, Y10 \
	VROUNDPS     $0, Y10, Y10 \
	VFNMADD231PS mathc<>+96(SB), Y10, X \
	VFNMADD231PS mathc<>+128(SB), Y10, X \
	VBROADCASTSS mathc<>+160(SB), Y11 \
	VFMADD213PS  mathc<>+192(SB), X, Y11 \
	VFMADD213PS  mathc<>+224(SB), X, Y11 \
	VFMADD213PS  mathc<>+256(SB), X, Y11 \
	VFMADD213PS  mathc<>+288(SB), X, Y11 \
	VFMADD213PS  mathc<>+320(SB), X, Y11 \
	VMULPS       X, X, Y12 \
	VFMADD213PS  X, Y12, Y11 \
	VADDPS       mathc<>+352(SB), Y11, Y11 \
	VCVTPS2DQ    Y10, Y13 \
	VPADDD       mathc<>+384(SB), Y13, Y13 \
	VPSLLD       $23, Y13, Y13 \
	VMULPS       Y13, Y11, X \
	VANDNPS      X, Y14, X

// func expSubSumAVX2(x *float32, n int, sub float32) float32
// x[i] = exp(x[i] - sub) for n (a multiple of 8) elements; returns the sum.
TEXT ·expSubSumAVX2(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS sub+16(FP), Y9
	VXORPS       Y8, Y8, Y8
	SHRQ         $3, CX
	JZ           expdone

exploop:
	VMOVUPS (SI), Y0
	VSUBPS  Y9, Y0, Y0
	EXP(Y0)
	VMOVUPS Y0, (SI)
	VADDPS  Y0, Y8, Y8
	ADDQ    $32, SI
	DECQ    CX
	JNZ     exploop

expdone:
	VEXTRACTF128 $1, Y8, X1
	VADDPS       X1, X8, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func geluAVX2(x *float32, n int)
// x = x·Φ(x) for n (a multiple of 8) elements, Φ(x) = (1+erf(u))/2 with
// u = x/√2 and erf(u) = u·P(u²)/Q(u²), so Φ = (Q+u·P)/(2Q): a division
// and eleven multiply-adds, no exponential. x is first raised to −C·√2,
// where Φ is below 2e-8, so that a far negative x gives about 0 rather
// than x times the rounding error of Q+u·P. u is capped at C (erf(C)
// rounds to 1), which keeps P and Q in their fitted range; a NaN x stays
// NaN through the final product.
TEXT ·geluAVX2(SB), NOSPLIT, $0-16
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	SHRQ         $3, CX
	JZ           geludone
	VMOVUPS      geluc<>+64(SB), Y8 // −C·√2

geluloop:
	VMOVUPS     (SI), Y1
	VMAXPS      Y1, Y8, Y7              // x raised to −C·√2; a NaN x stays
	VMULPS      geluc<>+0(SB), Y7, Y2   // u
	VMINPS      geluc<>+32(SB), Y2, Y2  // u ≤ C
	VMULPS      Y2, Y2, Y3              // u²
	VMOVUPS     geluc<>+96(SB), Y4
	VFMADD213PS geluc<>+128(SB), Y3, Y4
	VFMADD213PS geluc<>+160(SB), Y3, Y4
	VFMADD213PS geluc<>+192(SB), Y3, Y4
	VFMADD213PS geluc<>+224(SB), Y3, Y4
	VFMADD213PS geluc<>+256(SB), Y3, Y4
	VFMADD213PS geluc<>+288(SB), Y3, Y4 // P
	VMOVUPS     geluc<>+320(SB), Y5
	VFMADD213PS geluc<>+352(SB), Y3, Y5
	VFMADD213PS geluc<>+384(SB), Y3, Y5
	VFMADD213PS geluc<>+416(SB), Y3, Y5
	VFMADD213PS geluc<>+448(SB), Y3, Y5 // Q
	VADDPS      Y5, Y5, Y6              // 2Q
	VFMADD231PS Y4, Y2, Y5              // Q + u·P
	VDIVPS      Y6, Y5, Y5              // Φ
	VMULPS      Y5, Y7, Y1
	VMOVUPS     Y1, (SI)
	ADDQ        $32, SI
	DECQ        CX
	JNZ         geluloop

geludone:
	VZEROUPPER
	RET

// func axpyAVX2(alpha float32, x *float32, y *float32, n int)
// y[i] += alpha·x[i] for n (a multiple of 8) elements.
TEXT ·axpyAVX2(SB), NOSPLIT, $0-32
	VBROADCASTSS alpha+0(FP), Y0
	MOVQ         x+8(FP), SI
	MOVQ         y+16(FP), DI
	MOVQ         n+24(FP), CX
	SHRQ         $3, CX
	JZ           axpydone

axpyloop:
	VMOVUPS     (DI), Y1
	VFMADD231PS (SI), Y0, Y1
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         axpyloop

axpydone:
	VZEROUPPER
	RET

// func dotAVX2(a *float32, b *float32, n int) float32
// Σ a[i]·b[i] for n (a multiple of 8) elements, four accumulator chains.
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ   a+0(FP), SI
	MOVQ   b+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	MOVQ   CX, BX
	SHRQ   $5, BX
	JZ     dot8

dot32:
	VMOVUPS     (SI), Y4
	VMOVUPS     32(SI), Y5
	VMOVUPS     64(SI), Y6
	VMOVUPS     96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	ADDQ        $128, SI
	ADDQ        $128, DI
	DECQ        BX
	JNZ         dot32

dot8:
	ANDQ $31, CX
	SHRQ $3, CX
	JZ   dotsum

dot8loop:
	VMOVUPS     (SI), Y4
	VFMADD231PS (DI), Y4, Y0
	ADDQ        $32, SI
	ADDQ        $32, DI
	DECQ        CX
	JNZ         dot8loop

dotsum:
	VADDPS       Y1, Y0, Y0
	VADDPS       Y3, Y2, Y2
	VADDPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func addSumAVX2(x *float32, res *float32, n int) float32
// x[i] += res[i] (res may be nil) for n (a multiple of 8) elements;
// returns Σ x[i] after the add.
TEXT ·addSumAVX2(SB), NOSPLIT, $0-28
	MOVQ   x+0(FP), SI
	MOVQ   res+8(FP), DI
	MOVQ   n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	SHRQ   $3, CX
	JZ     addsumdone
	TESTQ  DI, DI
	JZ     sumloop

addsumloop:
	VMOVUPS (SI), Y2
	VADDPS  (DI), Y2, Y2
	VMOVUPS Y2, (SI)
	VADDPS  Y2, Y0, Y0
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     addsumloop
	JMP     addsumdone

sumloop:
	VADDPS (SI), Y0, Y0
	ADDQ   $32, SI
	DECQ   CX
	JNZ    sumloop

addsumdone:
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func sqDevSumAVX2(x *float32, n int, mean float32) float32
// Σ (x[i]-mean)² for n (a multiple of 8) elements: the two-pass variance,
// free of the cancellation that E[x²]-E[x]² suffers.
TEXT ·sqDevSumAVX2(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS mean+16(FP), Y3
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	SHRQ         $3, CX
	JZ           sqdone

sqloop:
	VMOVUPS     (SI), Y2
	VSUBPS      Y3, Y2, Y2
	VFMADD231PS Y2, Y2, Y0
	ADDQ        $32, SI
	DECQ        CX
	JNZ         sqloop

sqdone:
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	MOVSS        X0, ret+24(FP)
	VZEROUPPER
	RET

// func normAVX2(x *float32, gamma *float32, beta *float32, n int, mean float32, inv float32)
// x[i] = (x[i]-mean)·inv·gamma[i] + beta[i] for n (a multiple of 8) elements.
TEXT ·normAVX2(SB), NOSPLIT, $0-40
	MOVQ         x+0(FP), SI
	MOVQ         gamma+8(FP), DI
	MOVQ         beta+16(FP), DX
	MOVQ         n+24(FP), CX
	VBROADCASTSS mean+32(FP), Y3
	VBROADCASTSS inv+36(FP), Y4
	SHRQ         $3, CX
	JZ           normdone

normloop:
	VMOVUPS     (SI), Y2
	VSUBPS      Y3, Y2, Y2
	VMULPS      Y4, Y2, Y2
	VMULPS      (DI), Y2, Y2
	VADDPS      (DX), Y2, Y2
	VMOVUPS     Y2, (SI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, DX
	DECQ        CX
	JNZ         normloop

normdone:
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
// The largest of x[:n] (n a positive multiple of 8), four chains. A NaN
// may be passed over: softmax then turns its row into NaN all the same.
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VMOVUPS (SI), Y0
	VMOVAPS Y0, Y1
	VMOVAPS Y0, Y2
	VMOVAPS Y0, Y3
	MOVQ    CX, BX
	SHRQ    $5, BX
	JZ      max8

max32:
	VMAXPS (SI), Y0, Y0
	VMAXPS 32(SI), Y1, Y1
	VMAXPS 64(SI), Y2, Y2
	VMAXPS 96(SI), Y3, Y3
	ADDQ   $128, SI
	DECQ   BX
	JNZ    max32

max8:
	ANDQ $31, CX
	SHRQ $3, CX
	JZ   maxred

max8loop:
	VMAXPS (SI), Y0, Y0
	ADDQ   $32, SI
	DECQ   CX
	JNZ    max8loop

maxred:
	VMAXPS       Y1, Y0, Y0
	VMAXPS       Y3, Y2, Y2
	VMAXPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	MOVSS        X0, ret+16(FP)
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, s float32)
// x[i] *= s for n (a multiple of 8) elements.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS s+16(FP), Y0
	SHRQ         $3, CX
	JZ           scaledone

scaleloop:
	VMULPS  (SI), Y0, Y1
	VMOVUPS Y1, (SI)
	ADDQ    $32, SI
	DECQ    CX
	JNZ     scaleloop

scaledone:
	VZEROUPPER
	RET

// EXP512(X) is EXP for a ZMM register: the same constants and steps, so
// that its results are the AVX2 ones. Clobbers Z10-Z13 and K2.
#define EXP512(X) \
	VCMPPS.BCST       $1, mathc<>+32(SB), X, K2 \
	VMINPS.BCST       mathc<>+0(SB), X, X \
	VMAXPS.BCST       mathc<>+32(SB), X, X \
	VMULPS.BCST       mathc<>+64(SB), X, Z10 \
	VRNDSCALEPS       $0, Z10, Z10 \
	VFNMADD231PS.BCST mathc<>+96(SB), Z10, X \
	VFNMADD231PS.BCST mathc<>+128(SB), Z10, X \
	VBROADCASTSS      mathc<>+160(SB), Z11 \
	VFMADD213PS.BCST  mathc<>+192(SB), X, Z11 \
	VFMADD213PS.BCST  mathc<>+224(SB), X, Z11 \
	VFMADD213PS.BCST  mathc<>+256(SB), X, Z11 \
	VFMADD213PS.BCST  mathc<>+288(SB), X, Z11 \
	VFMADD213PS.BCST  mathc<>+320(SB), X, Z11 \
	VMULPS            X, X, Z12 \
	VFMADD213PS       X, Z12, Z11 \
	VADDPS.BCST       mathc<>+352(SB), Z11, Z11 \
	VCVTPS2DQ         Z10, Z13 \
	VPADDD.BCST       mathc<>+384(SB), Z13, Z13 \
	VPSLLD            $23, Z13, Z13 \
	VMULPS            Z13, Z11, X \
	VPXORD            X, X, K2, X

// func geluAVX512(x *float32, n int)
// geluAVX2 sixteen at a time, for n (a multiple of 16) elements: the same
// operations in the same order, so the results are the AVX2 ones bit for
// bit.
TEXT ·geluAVX512(SB), NOSPLIT, $0-16
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	SHRQ         $4, CX
	JZ           gelu512done
	VBROADCASTSS geluc<>+64(SB), Z8 // −C·√2

gelu512loop:
	VMOVUPS          (SI), Z1
	VMAXPS           Z1, Z8, Z7
	VMULPS.BCST      geluc<>+0(SB), Z7, Z2
	VMINPS.BCST      geluc<>+32(SB), Z2, Z2
	VMULPS           Z2, Z2, Z3
	VBROADCASTSS     geluc<>+96(SB), Z4
	VFMADD213PS.BCST geluc<>+128(SB), Z3, Z4
	VFMADD213PS.BCST geluc<>+160(SB), Z3, Z4
	VFMADD213PS.BCST geluc<>+192(SB), Z3, Z4
	VFMADD213PS.BCST geluc<>+224(SB), Z3, Z4
	VFMADD213PS.BCST geluc<>+256(SB), Z3, Z4
	VFMADD213PS.BCST geluc<>+288(SB), Z3, Z4
	VBROADCASTSS     geluc<>+320(SB), Z5
	VFMADD213PS.BCST geluc<>+352(SB), Z3, Z5
	VFMADD213PS.BCST geluc<>+384(SB), Z3, Z5
	VFMADD213PS.BCST geluc<>+416(SB), Z3, Z5
	VFMADD213PS.BCST geluc<>+448(SB), Z3, Z5
	VADDPS           Z5, Z5, Z6
	VFMADD231PS      Z4, Z2, Z5
	VDIVPS           Z6, Z5, Z5
	VMULPS           Z5, Z7, Z1
	VMOVUPS          Z1, (SI)
	ADDQ             $64, SI
	DECQ             CX
	JNZ              gelu512loop

gelu512done:
	VZEROUPPER
	RET

// func expSubSumAVX512(x *float32, n int, sub float32) float32
// expSubSumAVX2 sixteen at a time, for n (a multiple of 16) elements: each
// x[i] = exp(x[i]-sub) is the AVX2 result bit for bit (EXP512); the sum
// of them is taken in another order.
TEXT ·expSubSumAVX512(SB), NOSPLIT, $0-28
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS sub+16(FP), Z9
	VPXORD       Z8, Z8, Z8
	SHRQ         $4, CX
	JZ           exp16done

exp16loop:
	VMOVUPS (SI), Z0
	VSUBPS  Z9, Z0, Z0
	EXP512(Z0)
	VMOVUPS Z0, (SI)
	VADDPS  Z0, Z8, Z8
	ADDQ    $64, SI
	DECQ    CX
	JNZ     exp16loop

exp16done:
	VEXTRACTF64X4 $1, Z8, Y1
	VADDPS        Y1, Y8, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VHADDPS       X0, X0, X0
	VHADDPS       X0, X0, X0
	MOVSS         X0, ret+24(FP)
	VZEROUPPER
	RET
