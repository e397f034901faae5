//go:build amd64 && !purego

#include "textflag.h"

// KSTEP is one k of the 6×16 micro-kernel: the B row at B0/B1(DI), the six
// A values at A0…A5(SI), twelve FMAs.
#define KSTEP(B0, B1, A0, A1, A2, A3, A4, A5) \
	VMOVUPS      B0(DI), Y12 \
	VMOVUPS      B1(DI), Y13 \
	VBROADCASTSS A0(SI), Y14 \
	VFMADD231PS  Y12, Y14, Y0 \
	VFMADD231PS  Y13, Y14, Y1 \
	VBROADCASTSS A1(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y2 \
	VFMADD231PS  Y13, Y15, Y3 \
	VBROADCASTSS A2(SI), Y14 \
	VFMADD231PS  Y12, Y14, Y4 \
	VFMADD231PS  Y13, Y14, Y5 \
	VBROADCASTSS A3(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y6 \
	VFMADD231PS  Y13, Y15, Y7 \
	VBROADCASTSS A4(SI), Y14 \
	VFMADD231PS  Y12, Y14, Y8 \
	VFMADD231PS  Y13, Y14, Y9 \
	VBROADCASTSS A5(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y10 \
	VFMADD231PS  Y13, Y15, Y11

// LOADCIN points AX at Cin's first row and R8 at its row stride in bytes,
// or jumps to NOCIN when there is no Cin.
#define LOADCIN(NOCIN) \
	MOVQ  cin+40(FP), AX   \
	TESTQ AX, AX           \
	JZ    NOCIN            \
	MOVQ  ldcin+48(FP), R8 \
	SHLQ  $2, R8

// ADDROW adds Cin's row at AX to C0, C1 and moves AX to the next row.
#define ADDROW(C0, C1) \
	VADDPS (AX), C0, C0   \
	VADDPS 32(AX), C1, C1 \
	ADDQ   R8, AX

// STROW stores C0, C1 to C's row at DX and moves DX to the next row.
#define STROW(C0, C1) \
	VMOVUPS C0, (DX)   \
	VMOVUPS C1, 32(DX) \
	ADDQ    R9, DX

// func gemm6x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)
//
// C[6][16] = [Cin +] A[6][k] · B[k][16], with A packed k-major ([k][6]:
// the six row values of one k are adjacent), B a packed panel ([k][16]), C
// rows ldc floats apart and Cin, unless nil, rows ldcin floats apart (Cin =
// C accumulates; another Cin is how the streaming order keeps the partial
// sums of a panel out of C until its last K slice). Twelve accumulators Y0-Y11 hold the 6×16 block; Y12/Y13
// hold the B row, Y14/Y15 the broadcast A values. Unrolled by two.
// pf, unless nil, is where to prefetch from while computing: one
// PREFETCHT1 per k, pfStep bytes apart (64: one B row of the next slice
// per k; less when several calls share the next slice), so that memory
// traffic overlaps this call's arithmetic. Into L2, not L1: a few-row pass
// streaming W from memory keeps more misses in flight through L2's miss
// buffers than through L1's, and the slice is read soon enough for L2 to
// hold it. Without pf the loop issues no prefetches at all, which is
// better when B slices are reused by many row groups anyway.
TEXT ·gemm6x16AVX2(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R9
	MOVQ pf+56(FP), R10
	MOVQ pfStep+64(FP), R11
	SHLQ $2, R9

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ  CX, BX
	SHRQ  $1, BX
	JZ    tail
	TESTQ R10, R10
	JZ    loop2np

	PCALIGN $64

loop2:
	PREFETCHT1 (R10)
	ADDQ       R11, R10
	PREFETCHT1 (R10)
	ADDQ       R11, R10
	KSTEP(0, 32, 0, 4, 8, 12, 16, 20)
	KSTEP(64, 96, 24, 28, 32, 36, 40, 44)
	ADDQ       $48, SI
	ADDQ       $128, DI
	DECQ       BX
	JNZ        loop2
	JMP        tail

	PCALIGN $64

loop2np:
	KSTEP(0, 32, 0, 4, 8, 12, 16, 20)
	KSTEP(64, 96, 24, 28, 32, 36, 40, 44)
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ BX
	JNZ  loop2np

tail:
	ANDQ $1, CX
	JZ   store
	KSTEP(0, 32, 0, 4, 8, 12, 16, 20)

store:
	LOADCIN(write)
	ADDROW(Y0, Y1)
	ADDROW(Y2, Y3)
	ADDROW(Y4, Y5)
	ADDROW(Y6, Y7)
	ADDROW(Y8, Y9)
	ADDROW(Y10, Y11)

write:
	STROW(Y0, Y1)
	STROW(Y2, Y3)
	STROW(Y4, Y5)
	STROW(Y6, Y7)
	STROW(Y8, Y9)
	STROW(Y10, Y11)
	VZEROUPPER
	RET

// func fmaLoopAVX2(n int)
//
// n iterations of 12 independent 8-wide FMAs (192 flops): enough chains to
// hide FMA latency on two FMA pipes, so it measures the core's fp32 peak.
TEXT ·fmaLoopAVX2(SB), NOSPLIT, $0-8
	MOVQ   n+0(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	TESTQ  CX, CX
	JZ     done

fmaloop:
	VFMADD231PS Y12, Y13, Y0
	VFMADD231PS Y12, Y13, Y1
	VFMADD231PS Y12, Y13, Y2
	VFMADD231PS Y12, Y13, Y3
	VFMADD231PS Y12, Y13, Y4
	VFMADD231PS Y12, Y13, Y5
	VFMADD231PS Y12, Y13, Y6
	VFMADD231PS Y12, Y13, Y7
	VFMADD231PS Y12, Y13, Y8
	VFMADD231PS Y12, Y13, Y9
	VFMADD231PS Y12, Y13, Y10
	VFMADD231PS Y12, Y13, Y11
	DECQ        CX
	JNZ         fmaloop

done:
	VZEROUPPER
	RET

// KSTEP4 is one k of the 4×16 kernel, advancing SI and DI.
#define KSTEP4 \
	VMOVUPS      (DI), Y12 \
	VMOVUPS      32(DI), Y13 \
	VBROADCASTSS 0(SI), Y14 \
	VFMADD231PS  Y12, Y14, Y0 \
	VFMADD231PS  Y13, Y14, Y1 \
	VBROADCASTSS 4(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y2 \
	VFMADD231PS  Y13, Y15, Y3 \
	VBROADCASTSS 8(SI), Y14 \
	VFMADD231PS  Y12, Y14, Y4 \
	VFMADD231PS  Y13, Y14, Y5 \
	VBROADCASTSS 12(SI), Y15 \
	VFMADD231PS  Y12, Y15, Y6 \
	VFMADD231PS  Y13, Y15, Y7 \
	ADDQ         $24, SI \
	ADDQ         $64, DI

// func gemm4x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)
//
// The 4-row variant of gemm6x16AVX2 for the last, partial row group:
// it reads the first 4 values of each k of the same 6-wide packed A.
// pf and pfStep as for gemm6x16AVX2.
TEXT ·gemm4x16AVX2(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R9
	MOVQ pf+56(FP), R10
	MOVQ pfStep+64(FP), R11
	SHLQ $2, R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	TESTQ CX, CX
	JZ    store4
	TESTQ R10, R10
	JZ    loop4
	PCALIGN $64

loop4pf:
	PREFETCHT1 (R10)
	ADDQ       R11, R10
	KSTEP4
	DECQ CX
	JNZ  loop4pf
	JMP  store4

	PCALIGN $64

loop4:
	KSTEP4
	DECQ CX
	JNZ  loop4

store4:
	LOADCIN(write4)
	ADDROW(Y0, Y1)
	ADDROW(Y2, Y3)
	ADDROW(Y4, Y5)
	ADDROW(Y6, Y7)

write4:
	STROW(Y0, Y1)
	STROW(Y2, Y3)
	STROW(Y4, Y5)
	STROW(Y6, Y7)
	VZEROUPPER
	RET

// KSTEP2 is one k of the 2×16 kernel: the B row at BOFF(DI), the two A
// values at AOFF(SI), four FMAs into C0…C3.
#define KSTEP2(BOFF, AOFF, C0, C1, C2, C3) \
	VMOVUPS      BOFF(DI), Y12    \
	VMOVUPS      BOFF+32(DI), Y13 \
	VBROADCASTSS AOFF(SI), Y14    \
	VFMADD231PS  Y12, Y14, C0     \
	VFMADD231PS  Y13, Y14, C1     \
	VBROADCASTSS AOFF+4(SI), Y15  \
	VFMADD231PS  Y12, Y15, C2     \
	VFMADD231PS  Y13, Y15, C3

// func gemm2x16AVX2(k int, a *float32, b *float32, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)
//
// The 2-row variant of gemm6x16AVX2 for the last, partial row group:
// it reads the first 2 values of each k of the same 6-wide packed A.
// Even and odd k sum into separate accumulators (Y0-Y3, Y4-Y7), added at
// the end: four chains alone would wait on the FMA latency, at half speed.
// pf and pfStep as for gemm6x16AVX2 (a batch-1 [CLS] row streams W with
// little arithmetic to hide the misses behind).
TEXT ·gemm2x16AVX2(SB), NOSPLIT, $0-72
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R9
	MOVQ pf+56(FP), R10
	MOVQ pfStep+64(FP), R11
	SHLQ $2, R9
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ  CX, BX
	SHRQ  $1, BX
	JZ    tail2
	TESTQ R10, R10
	JZ    loop2x2
	PCALIGN $64

loop2x2pf:
	PREFETCHT1 (R10)
	ADDQ       R11, R10
	PREFETCHT1 (R10)
	ADDQ       R11, R10
	KSTEP2(0, 0, Y0, Y1, Y2, Y3)
	KSTEP2(64, 24, Y4, Y5, Y6, Y7)
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ BX
	JNZ  loop2x2pf
	JMP  tail2

	PCALIGN $64

loop2x2:
	KSTEP2(0, 0, Y0, Y1, Y2, Y3)
	KSTEP2(64, 24, Y4, Y5, Y6, Y7)
	ADDQ $48, SI
	ADDQ $128, DI
	DECQ BX
	JNZ  loop2x2

tail2:
	ANDQ $1, CX
	JZ   sum2
	KSTEP2(0, 0, Y0, Y1, Y2, Y3)

sum2:
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3

store2:
	LOADCIN(write2)
	ADDROW(Y0, Y1)
	ADDROW(Y2, Y3)

write2:
	STROW(Y0, Y1)
	STROW(Y2, Y3)
	VZEROUPPER
	RET

// func prefetchTile(c *float32, ldc, rows, width int)
// Prefetches rows rows of width bytes, ldc floats apart, from c into L1:
// the first line, the next, and the one holding the last float, so a
// 64- or 128-byte tile row is covered at any alignment.
TEXT ·prefetchTile(SB), NOSPLIT, $0-32
	MOVQ c+0(FP), AX
	MOVQ ldc+8(FP), BX
	SHLQ $2, BX
	MOVQ rows+16(FP), CX
	MOVQ width+24(FP), DX
	SUBQ $4, DX

ptloop:
	TESTQ      CX, CX
	JZ         ptdone
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 (AX)(DX*1)
	ADDQ       BX, AX
	DECQ       CX
	JMP        ptloop

ptdone:
	RET

// PACK6STORES stores four packed columns of six rows: rows 0-3 of column
// j from Xj, rows 4-5 of columns 0, 1 from the halves of X10 and of
// columns 2, 3 from X11, advancing DI by R10 bytes per column.
#define PACK6STORES \
	VMOVUPS X0, (DI) \
	VMOVLPS X10, 16(DI) \
	ADDQ    R10, DI \
	VMOVUPS X1, (DI) \
	VMOVHPS X10, 16(DI) \
	ADDQ    R10, DI \
	VMOVUPS X2, (DI) \
	VMOVLPS X11, 16(DI) \
	ADDQ    R10, DI \
	VMOVUPS X3, (DI) \
	VMOVHPS X11, 16(DI) \
	ADDQ    R10, DI

// func pack6x8AVX2(dst *float32, x *float32, blocks, ldx, stride int)
//
// Packs blocks×8 columns of six rows of x (ldx floats apart) k-major into
// dst, stride floats per column: dst[stride·k+r] = x[r][k] (stride 6: a
// 6-row group; 12: half of a 12-row group). Per 8 columns the rows are
// loaded whole and transposed in registers: rows 0-3 of column k become
// one 4-float store, rows 4-5 a 2-float store (never a byte outside the
// six: parallel packers write neighbouring groups).
TEXT ·pack6x8AVX2(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ ldx+24(FP), DX
	SHLQ $2, DX
	MOVQ stride+32(FP), R10
	SHLQ $2, R10
	LEAQ (SI)(DX*4), R8 // row 4
	LEAQ (DX)(DX*2), R9 // 3 rows

p6loop:
	VMOVUPS      (SI), Y0
	VMOVUPS      (SI)(DX*1), Y1
	VMOVUPS      (SI)(DX*2), Y2
	VMOVUPS      (SI)(R9*1), Y3
	VMOVUPS      (R8), Y4
	VMOVUPS      (R8)(DX*1), Y5
	VUNPCKLPS    Y1, Y0, Y6            // r0 r1 of k 0,1 | 4,5
	VUNPCKHPS    Y1, Y0, Y7            // r0 r1 of k 2,3 | 6,7
	VUNPCKLPS    Y3, Y2, Y8            // r2 r3 of k 0,1 | 4,5
	VUNPCKHPS    Y3, Y2, Y9            // r2 r3 of k 2,3 | 6,7
	VUNPCKLPS    Y5, Y4, Y10           // r4 r5 of k 0,1 | 4,5
	VUNPCKHPS    Y5, Y4, Y11           // r4 r5 of k 2,3 | 6,7
	VSHUFPS      $0x44, Y8, Y6, Y0     // r0-r3 of k 0 | 4
	VSHUFPS      $0xEE, Y8, Y6, Y1     // k 1 | 5
	VSHUFPS      $0x44, Y9, Y7, Y2     // k 2 | 6
	VSHUFPS      $0xEE, Y9, Y7, Y3     // k 3 | 7
	PACK6STORES
	VEXTRACTF128 $1, Y0, X0
	VEXTRACTF128 $1, Y1, X1
	VEXTRACTF128 $1, Y2, X2
	VEXTRACTF128 $1, Y3, X3
	VEXTRACTF128 $1, Y10, X10
	VEXTRACTF128 $1, Y11, X11
	PACK6STORES
	ADDQ         $32, SI
	ADDQ         $32, R8
	DECQ         CX
	JNZ          p6loop
	VZEROUPPER
	RET

// T8X8 transposes the 8×8 block in Y0-Y7 (row r in Yr) into Y8-Y15 (column
// c in Y(8+c)), using Y0-Y7 as scratch.
#define T8X8 \
	VUNPCKLPS  Y1, Y0, Y8 \
	VUNPCKHPS  Y1, Y0, Y9 \
	VUNPCKLPS  Y3, Y2, Y10 \
	VUNPCKHPS  Y3, Y2, Y11 \
	VUNPCKLPS  Y5, Y4, Y12 \
	VUNPCKHPS  Y5, Y4, Y13 \
	VUNPCKLPS  Y7, Y6, Y14 \
	VUNPCKHPS  Y7, Y6, Y15 \
	VSHUFPS    $0x44, Y10, Y8, Y0 \
	VSHUFPS    $0xEE, Y10, Y8, Y1 \
	VSHUFPS    $0x44, Y11, Y9, Y2 \
	VSHUFPS    $0xEE, Y11, Y9, Y3 \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8 \
	VPERM2F128 $0x20, Y5, Y1, Y9 \
	VPERM2F128 $0x20, Y6, Y2, Y10 \
	VPERM2F128 $0x20, Y7, Y3, Y11 \
	VPERM2F128 $0x31, Y4, Y0, Y12 \
	VPERM2F128 $0x31, Y5, Y1, Y13 \
	VPERM2F128 $0x31, Y6, Y2, Y14 \
	VPERM2F128 $0x31, Y7, Y3, Y15

// LOAD8 loads 8 floats of the 8 rows at BASE, DX bytes apart (R9 = 3·DX).
#define LOAD8(BASE) \
	VMOVUPS (BASE), Y0 \
	VMOVUPS (BASE)(DX*1), Y1 \
	VMOVUPS (BASE)(DX*2), Y2 \
	VMOVUPS (BASE)(R9*1), Y3 \
	LEAQ    (BASE)(DX*4), R10 \
	VMOVUPS (R10), Y4 \
	VMOVUPS (R10)(DX*1), Y5 \
	VMOVUPS (R10)(DX*2), Y6 \
	VMOVUPS (R10)(R9*1), Y7

// STORE8 stores the transposed columns Y8-Y15 as 8 panel rows, 64 bytes
// apart, at OFF(DI).
#define STORE8(OFF) \
	VMOVUPS Y8, OFF(DI) \
	VMOVUPS Y9, OFF+64(DI) \
	VMOVUPS Y10, OFF+128(DI) \
	VMOVUPS Y11, OFF+192(DI) \
	VMOVUPS Y12, OFF+256(DI) \
	VMOVUPS Y13, OFF+320(DI) \
	VMOVUPS Y14, OFF+384(DI) \
	VMOVUPS Y15, OFF+448(DI)

// func pack16x8AVX2(dst *float32, w *float32, blocks, ld int)
//
// Packs blocks×8 columns of 16 rows of w (ld floats apart) into a 16-wide
// panel: dst[16k+j] = w[j][k], two 8×8 register transposes per 8 columns.
TEXT ·pack16x8AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R9
	LEAQ (SI)(DX*8), R11 // row 8

p16loop:
	LOAD8(SI)
	T8X8
	STORE8(0)
	LOAD8(R11)
	T8X8
	STORE8(32)
	ADDQ $32, SI
	ADDQ $32, R11
	ADDQ $512, DI
	DECQ CX
	JNZ  p16loop
	VZEROUPPER
	RET

// func pack8x8Stride(dst *float32, w *float32, blocks, ld, stride int)
//
// Packs blocks×8 columns of 8 rows of w (ld floats apart) into panel rows
// stride floats apart: dst[stride·k+j] = w[j][k]. A panel narrower than
// the kernel's (attention's keys at short lengths) is packed 8 rows at a
// time by it.
TEXT ·pack8x8Stride(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R9
	MOVQ stride+32(FP), BX
	SHLQ $2, BX
	LEAQ (BX)(BX*2), R11 // 3 panel rows

p8loop:
	LOAD8(SI)
	T8X8
	LEAQ    (DI)(BX*4), R8
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(BX*1)
	VMOVUPS Y10, (DI)(BX*2)
	VMOVUPS Y11, (DI)(R11*1)
	VMOVUPS Y12, (R8)
	VMOVUPS Y13, (R8)(BX*1)
	VMOVUPS Y14, (R8)(BX*2)
	VMOVUPS Y15, (R8)(R11*1)
	ADDQ    $32, SI
	LEAQ    (DI)(BX*8), DI
	DECQ    CX
	JNZ     p8loop
	VZEROUPPER
	RET

// STORE8W32 is STORE8 for a 32-wide panel: panel rows 128 bytes apart.
#define STORE8W32(OFF) \
	VMOVUPS Y8, OFF(DI) \
	VMOVUPS Y9, OFF+128(DI) \
	VMOVUPS Y10, OFF+256(DI) \
	VMOVUPS Y11, OFF+384(DI) \
	VMOVUPS Y12, OFF+512(DI) \
	VMOVUPS Y13, OFF+640(DI) \
	VMOVUPS Y14, OFF+768(DI) \
	VMOVUPS Y15, OFF+896(DI)

// func pack32x8AVX2(dst *float32, w *float32, blocks, ld int)
//
// pack16x8AVX2 for a 32-wide panel (the avx512 path's): blocks×8 columns
// of 32 rows of w into dst[32k+j] = w[j][k], four 8×8 transposes per 8
// columns.
TEXT ·pack32x8AVX2(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), SI
	MOVQ blocks+16(FP), CX
	MOVQ ld+24(FP), DX
	SHLQ $2, DX
	LEAQ (DX)(DX*2), R9
	LEAQ (SI)(DX*8), R11 // row 8
	LEAQ (R11)(DX*8), R12 // row 16
	LEAQ (R12)(DX*8), R13 // row 24

p32loop:
	LOAD8(SI)
	T8X8
	STORE8W32(0)
	LOAD8(R11)
	T8X8
	STORE8W32(32)
	LOAD8(R12)
	T8X8
	STORE8W32(64)
	LOAD8(R13)
	T8X8
	STORE8W32(96)
	ADDQ $32, SI
	ADDQ $32, R11
	ADDQ $32, R12
	ADDQ $32, R13
	ADDQ $1024, DI
	DECQ CX
	JNZ  p32loop
	VZEROUPPER
	RET
