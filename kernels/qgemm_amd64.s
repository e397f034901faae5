//go:build amd64 && !purego

#include "textflag.h"

// Sixteen int16 ones: VPMADDWD with them adds adjacent int16 pairs into int32.
DATA qones<>+0(SB)/8, $0x0001000100010001
DATA qones<>+8(SB)/8, $0x0001000100010001
DATA qones<>+16(SB)/8, $0x0001000100010001
DATA qones<>+24(SB)/8, $0x0001000100010001
GLOBL qones<>(SB), RODATA|NOPTR, $32

// QROW is one row of a K step of the 6×16 int8 micro-kernel: the row's 4
// uint8 inputs at OFF(AX) broadcast to Y14 meet the panel's 16 columns × 4
// int8 weights in Y12/Y13 (8 columns each). VPMADDUBSW sums u8·s8 pairs
// into int16 (exact: 7-bit weights), VPMADDWD by ones sums those pairs
// into int32, VPADDD into the row's accumulators ACC0/ACC1.
#define QROW(OFF, ACC0, ACC1) \
	VPBROADCASTD OFF(AX), Y14 \
	VPMADDUBSW   Y12, Y14, Y15 \
	VPMADDWD     qones<>(SB), Y15, Y15 \
	VPADDD       Y15, ACC0, ACC0 \
	VPMADDUBSW   Y13, Y14, Y15 \
	VPMADDWD     qones<>(SB), Y15, Y15 \
	VPADDD       Y15, ACC1, ACC1

// QSTORE dequantizes a row's sums ACC0/ACC1 with its zero point OFF(R8)
// and scale OFF(R9), the column sums in Y12/Y13 and column scales at
// (R11), adds the biases at (R13) and stores them at (DI).
#define QSTORE(OFF, ACC0, ACC1) \
	VPBROADCASTD OFF(R8), Y14 \
	VPMULLD      Y12, Y14, Y15 \
	VPSUBD       Y15, ACC0, ACC0 \
	VPMULLD      Y13, Y14, Y15 \
	VPSUBD       Y15, ACC1, ACC1 \
	VCVTDQ2PS    ACC0, ACC0 \
	VCVTDQ2PS    ACC1, ACC1 \
	VBROADCASTSS OFF(R9), Y14 \
	VMULPS       (R11), Y14, Y15 \
	VMULPS       Y15, ACC0, ACC0 \
	VMULPS       32(R11), Y14, Y15 \
	VMULPS       Y15, ACC1, ACC1 \
	VADDPS       (R13), ACC0, ACC0 \
	VADDPS       32(R13), ACC1, ACC1 \
	VMOVUPS      ACC0, (DI) \
	VMOVUPS      ACC1, 32(DI)

// QLOAD starts a K step of the AVX2 kernel: one line of the next panel
// prefetched into L2, the panel's 16 columns × 4 weights into Y12/Y13.
#define QLOAD \
	PREFETCHT1 (R12) \
	VMOVDQU    (BX), Y12 \
	VMOVDQU    32(BX), Y13

// QNEXT moves to the next K step and counts it down (flags for JNZ).
#define QNEXT \
	ADDQ $64, R12 \
	ADDQ $24, AX \
	ADDQ $64, BX \
	DECQ CX

// func qgemm6x16AVX2(steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8)
//
// Same contract as qMicroGo: Y0-Y11 hold the 6×16 int32 sums, then each
// stored row is dequantized as float32(sum − zero[r]·colSum[j]) · (scale[r]·colScale[j]) + bias[j].
// pf is the next panel the caller will use: one line of it (a K step's
// worth) is prefetched into L2 per K step, so it streams in from memory
// while this panel is multiplied (into L2: at K=3072 a panel is 48 KiB,
// more than L1 holds next to the current one; PREFETCHT0 gained
// nothing over it).
TEXT ·qgemm6x16AVX2(SB), NOSPLIT, $0-96
	MOVQ steps+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ rows+40(FP), SI
	MOVQ zero+48(FP), R8
	MOVQ scale+56(FP), R9
	MOVQ colSum+64(FP), R10
	MOVQ colScale+72(FP), R11
	MOVQ bias+80(FP), R13
	MOVQ pf+88(FP), R12
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	// A group's padding rows cost as much as real ones: a 20-token
	// request is 6+6+6+2 rows, so 2- and 4-row loops skip them.
	CMPQ SI, $2
	JLE  loop2
	CMPQ SI, $4
	JLE  loop4

	PCALIGN $32
loop:
	QLOAD
	QROW(0, Y0, Y1)
	QROW(4, Y2, Y3)
	QROW(8, Y4, Y5)
	QROW(12, Y6, Y7)
	QROW(16, Y8, Y9)
	QROW(20, Y10, Y11)
	QNEXT
	JNZ  loop
	JMP  dequant

	PCALIGN $32
loop4:
	QLOAD
	QROW(0, Y0, Y1)
	QROW(4, Y2, Y3)
	QROW(8, Y4, Y5)
	QROW(12, Y6, Y7)
	QNEXT
	JNZ  loop4
	JMP  dequant

	PCALIGN $32
loop2:
	QLOAD
	QROW(0, Y0, Y1)
	QROW(4, Y2, Y3)
	QNEXT
	JNZ  loop2

dequant:
	VMOVDQU (R10), Y12
	VMOVDQU 32(R10), Y13
	// The valid rows only.
	QSTORE(0, Y0, Y1)
	CMPQ SI, $1
	JLE  done
	ADDQ DX, DI
	QSTORE(4, Y2, Y3)
	CMPQ SI, $2
	JLE  done
	ADDQ DX, DI
	QSTORE(8, Y4, Y5)
	CMPQ SI, $3
	JLE  done
	ADDQ DX, DI
	QSTORE(12, Y6, Y7)
	CMPQ SI, $4
	JLE  done
	ADDQ DX, DI
	QSTORE(16, Y8, Y9)
	CMPQ SI, $5
	JLE  done
	ADDQ DX, DI
	QSTORE(20, Y10, Y11)

done:
	VZEROUPPER
	RET

// func minMaxAVX2(x *float32, n int) (lo, hi float32, finite bool)
//
// The minimum and maximum of x[:n] and of 0 (n a positive multiple of 8),
// and whether every element is finite (x−x is 0 then, NaN otherwise).
TEXT ·minMaxAVX2(SB), NOSPLIT, $0-25
	MOVQ   x+0(FP), AX
	MOVQ   n+8(FP), CX
	VXORPS Y0, Y0, Y0 // min
	VXORPS Y1, Y1, Y1 // max
	VXORPS Y2, Y2, Y2 // Σ (x−x)
	VXORPS Y5, Y5, Y5 // second min, max and sum: two chains each
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ   CX, DX
	SHRQ   $4, DX
	JZ     mmtail

	// Sixteen values a round in two independent chains: the sum's
	// latency, not the loads, bounds a one-chain loop.
mmloop2:
	VMOVUPS (AX), Y3
	VMOVUPS 32(AX), Y8
	VMINPS  Y3, Y0, Y0
	VMINPS  Y8, Y5, Y5
	VMAXPS  Y3, Y1, Y1
	VMAXPS  Y8, Y6, Y6
	VSUBPS  Y3, Y3, Y4
	VSUBPS  Y8, Y8, Y9
	VADDPS  Y4, Y2, Y2
	VADDPS  Y9, Y7, Y7
	ADDQ    $64, AX
	DECQ    DX
	JNZ     mmloop2

mmtail:
	VMINPS Y5, Y0, Y0
	VMAXPS Y6, Y1, Y1
	VADDPS Y7, Y2, Y2
	ANDQ   $8, CX
	JZ     mmreduce
	VMOVUPS (AX), Y3
	VMINPS  Y3, Y0, Y0
	VMAXPS  Y3, Y1, Y1
	VSUBPS  Y3, Y3, Y4
	VADDPS  Y4, Y2, Y2

mmreduce:
	// Reduce the eight lanes.
	VEXTRACTF128 $1, Y0, X3
	VMINPS       X3, X0, X0
	VEXTRACTF128 $1, Y1, X3
	VMAXPS       X3, X1, X1
	VEXTRACTF128 $1, Y2, X3
	VADDPS       X3, X2, X2
	VPERMILPS    $0x4e, X0, X3
	VMINPS       X3, X0, X0
	VPERMILPS    $0x4e, X1, X3
	VMAXPS       X3, X1, X1
	VPERMILPS    $0x4e, X2, X3
	VADDPS       X3, X2, X2
	VPERMILPS    $0xb1, X0, X3
	VMINPS       X3, X0, X0
	VPERMILPS    $0xb1, X1, X3
	VMAXPS       X3, X1, X1
	VPERMILPS    $0xb1, X2, X3
	VADDPS       X3, X2, X2
	VMOVSS       X0, lo+16(FP)
	VMOVSS       X1, hi+20(FP)
	VUCOMISS     X2, X2
	SETPC        finite+24(FP) // PF is set when unordered: a NaN
	VZEROUPPER
	RET

// Constants for quantizeAVX2.
DATA qhalf<>+0(SB)/4, $0.5
GLOBL qhalf<>(SB), RODATA|NOPTR, $4
DATA q255<>+0(SB)/4, $255.0
GLOBL q255<>(SB), RODATA|NOPTR, $4

// func quantizeAVX2(x *float32, n int, dst *uint8, inv, zero float32)
//
// Quantizes x[:n] (n a positive multiple of 8) as the portable quantizeRow
// does, bit for bit: q = trunc(min(max(((x·inv) + zero) + 0.5, 0), 255)),
// writing each 4 values' bytes 24 bytes apart (a row's place in a packed
// 6-row group).
TEXT ·quantizeAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), AX
	MOVQ         n+8(FP), CX
	SHRQ         $3, CX
	MOVQ         dst+16(FP), DI
	VBROADCASTSS inv+24(FP), Y5
	VBROADCASTSS zero+28(FP), Y6
	VBROADCASTSS qhalf<>(SB), Y7
	VBROADCASTSS q255<>(SB), Y8
	VXORPS       Y9, Y9, Y9

qloop:
	VMOVUPS      (AX), Y0
	VMULPS       Y5, Y0, Y0
	VADDPS       Y6, Y0, Y0
	VADDPS       Y7, Y0, Y0
	VMAXPS       Y9, Y0, Y0 // (x > 0) ? x : 0, so NaN → 0
	VMINPS       Y8, Y0, Y0
	VCVTTPS2DQ   Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPACKUSDW    X1, X0, X0
	VPACKUSWB    X0, X0, X0
	VMOVD        X0, (DI)
	VPEXTRD      $1, X0, 24(DI)
	ADDQ         $32, AX
	ADDQ         $48, DI
	DECQ         CX
	JNZ          qloop
	VZEROUPPER
	RET

// VROW is one row of a K step of the AVX-512 VNNI int8 kernel: the row's 4
// uint8 inputs at OFF(AX), broadcast, meet the panel's 16 columns × 4 int8
// weights in B; VPDPBUSD adds the four u8·s8 products per column into the
// int32 lanes of ACC, exactly (no intermediate saturation).
#define VROW(OFF, B, T, ACC) \
	VPBROADCASTD OFF(AX), T \
	VPDPBUSD     B, T, ACC

// VSTORE dequantizes a row's sums ACC (as QSTORE) with its zero point
// OFF(R8) and scale OFF(R9), the column sums in Z12 and column scales in
// Z13, adds the biases in Z26 and stores them at (DI).
#define VSTORE(OFF, ACC) \
	VPBROADCASTD OFF(R8), Z14 \
	VPMULLD      Z12, Z14, Z15 \
	VPSUBD       Z15, ACC, ACC \
	VCVTDQ2PS    ACC, ACC \
	VBROADCASTSS OFF(R9), Z14 \
	VMULPS       Z13, Z14, Z15 \
	VMULPS       Z15, ACC, ACC \
	VADDPS       Z26, ACC, ACC \
	VMOVUPS      ACC, (DI)

// VLOAD2 starts two K steps of the VNNI kernel: two lines of the next
// panel prefetched into L2, the panel's two steps into Z12 and Z13.
#define VLOAD2 \
	PREFETCHT1 (R12) \
	PREFETCHT1 64(R12) \
	VMOVDQU32  (BX), Z12 \
	VMOVDQU32  64(BX), Z13

// VNEXT2 moves past the two K steps and counts the pair down.
#define VNEXT2 \
	ADDQ $128, R12 \
	ADDQ $48, AX \
	ADDQ $128, BX \
	DECQ R13

// func qgemm6x16VNNI(steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8)
//
// qgemm6x16AVX2's contract with AVX-512 VNNI: a K step of a panel (16
// columns × 4 bytes) is one ZMM, a row's step one VPDPBUSD. Two steps run
// at once into separate accumulators, Z0-Z5 and Z6-Z11, summed at the end
// (int32 addition is exact in any order): twelve independent chains hide
// VPDPBUSD's latency where six would not. Rows past rows are not computed.
TEXT ·qgemm6x16VNNI(SB), NOSPLIT, $0-96
	MOVQ steps+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ rows+40(FP), SI
	MOVQ zero+48(FP), R8
	MOVQ scale+56(FP), R9
	MOVQ colSum+64(FP), R10
	MOVQ colScale+72(FP), R11
	MOVQ bias+80(FP), R13
	VMOVUPS (R13), Z26       // the biases (R13 is the step counter below)
	MOVQ pf+88(FP), R12
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	MOVQ   CX, R13
	SHRQ   $1, R13           // step pairs
	JZ     vodd
	CMPQ   SI, $2
	JLE    vloop2
	CMPQ   SI, $4
	JLE    vloop4

	PCALIGN $32
vloop6:
	VLOAD2
	VROW(0, Z12, Z14, Z0)
	VROW(4, Z12, Z15, Z1)
	VROW(8, Z12, Z16, Z2)
	VROW(12, Z12, Z17, Z3)
	VROW(16, Z12, Z18, Z4)
	VROW(20, Z12, Z19, Z5)
	VROW(24, Z13, Z20, Z6)
	VROW(28, Z13, Z21, Z7)
	VROW(32, Z13, Z22, Z8)
	VROW(36, Z13, Z23, Z9)
	VROW(40, Z13, Z24, Z10)
	VROW(44, Z13, Z25, Z11)
	VNEXT2
	JNZ        vloop6
	JMP        vodd

	PCALIGN $32
vloop4:
	VLOAD2
	VROW(0, Z12, Z14, Z0)
	VROW(4, Z12, Z15, Z1)
	VROW(8, Z12, Z16, Z2)
	VROW(12, Z12, Z17, Z3)
	VROW(24, Z13, Z20, Z6)
	VROW(28, Z13, Z21, Z7)
	VROW(32, Z13, Z22, Z8)
	VROW(36, Z13, Z23, Z9)
	VNEXT2
	JNZ        vloop4
	JMP        vodd

	PCALIGN $32
vloop2:
	VLOAD2
	VROW(0, Z12, Z14, Z0)
	VROW(4, Z12, Z15, Z1)
	VROW(24, Z13, Z20, Z6)
	VROW(28, Z13, Z21, Z7)
	VNEXT2
	JNZ        vloop2

vodd:
	// An odd last step; rows past rows sum padding zeros, never stored.
	ANDQ      $1, CX
	JZ        vsum
	VMOVDQU32 (BX), Z12
	VROW(0, Z12, Z14, Z0)
	VROW(4, Z12, Z15, Z1)
	VROW(8, Z12, Z16, Z2)
	VROW(12, Z12, Z17, Z3)
	VROW(16, Z12, Z18, Z4)
	VROW(20, Z12, Z19, Z5)

vsum:
	VPADDD    Z6, Z0, Z0
	VPADDD    Z7, Z1, Z1
	VPADDD    Z8, Z2, Z2
	VPADDD    Z9, Z3, Z3
	VPADDD    Z10, Z4, Z4
	VPADDD    Z11, Z5, Z5
	VMOVDQU32 (R10), Z12
	VMOVUPS   (R11), Z13
	// The valid rows only.
	VSTORE(0, Z0)
	CMPQ SI, $1
	JLE  vdone
	ADDQ DX, DI
	VSTORE(4, Z1)
	CMPQ SI, $2
	JLE  vdone
	ADDQ DX, DI
	VSTORE(8, Z2)
	CMPQ SI, $3
	JLE  vdone
	ADDQ DX, DI
	VSTORE(12, Z3)
	CMPQ SI, $4
	JLE  vdone
	ADDQ DX, DI
	VSTORE(16, Z4)
	CMPQ SI, $5
	JLE  vdone
	ADDQ DX, DI
	VSTORE(20, Z5)

vdone:
	VZEROUPPER
	RET

// W4ROW is one row of a K step of the 6×64 VNNI kernel: the row's 4
// uint8 inputs at OFF(AX) broadcast to T meet four panels' weights in
// Z24-Z27, one VPDPBUSD each into the row's accumulators.
#define W4ROW(OFF, T, ACC0, ACC1, ACC2, ACC3) \
	VPBROADCASTD OFF(AX), T \
	VPDPBUSD     Z24, T, ACC0 \
	VPDPBUSD     Z25, T, ACC1 \
	VPDPBUSD     Z26, T, ACC2 \
	VPDPBUSD     Z27, T, ACC3

// W4PANEL dequantizes one panel's sums ACC of a row whose zero point is
// broadcast in Z28 and scale in Z30 (as VSTORE, the column data read from
// memory at OFF) and stores them at OFF(DI).
#define W4PANEL(OFF, ACC) \
	VPMULLD   OFF(R10), Z28, Z29 \
	VPSUBD    Z29, ACC, ACC \
	VCVTDQ2PS ACC, ACC \
	VMULPS    OFF(R11), Z30, Z31 \
	VMULPS    Z31, ACC, ACC \
	VADDPS    OFF(R13), ACC, ACC \
	VMOVUPS   ACC, OFF(DI)

// W4STORE stores one row's 64 dequantized columns; the row's zero point
// and scale are at ROW(R8) and ROW(R9).
#define W4STORE(ROW, ACC0, ACC1, ACC2, ACC3) \
	VPBROADCASTD ROW(R8), Z28 \
	VBROADCASTSS ROW(R9), Z30 \
	W4PANEL(0, ACC0) \
	W4PANEL(64, ACC1) \
	W4PANEL(128, ACC2) \
	W4PANEL(192, ACC3)

// func qgemm6x64VNNI(steps int, a *uint8, b *int8, panelBytes int, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8)
//
// Four adjacent panels at once (b, b+panelBytes, …): each broadcast row
// input feeds four VPDPBUSD instead of one, so the loads no longer bound
// the kernel, and the 24 accumulators Z0-Z23 are independent chains.
// Column data (colSum, colScale, bias) covers all 64 columns. Same
// results as four calls of qgemm6x16VNNI, bit for bit.
TEXT ·qgemm6x64VNNI(SB), NOSPLIT, $0-104
	MOVQ steps+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ panelBytes+24(FP), R14
	LEAQ (R14)(R14*2), R15
	MOVQ pf+96(FP), R12
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	PCALIGN $32
w4loop:
	PREFETCHT1 (R12)
	PREFETCHT1 (R12)(R14*1)
	PREFETCHT1 (R12)(R14*2)
	PREFETCHT1 (R12)(R15*1)
	VMOVDQU32  (BX), Z24
	VMOVDQU32  (BX)(R14*1), Z25
	VMOVDQU32  (BX)(R14*2), Z26
	VMOVDQU32  (BX)(R15*1), Z27
	W4ROW(0, Z28, Z0, Z1, Z2, Z3)
	W4ROW(4, Z29, Z4, Z5, Z6, Z7)
	W4ROW(8, Z28, Z8, Z9, Z10, Z11)
	W4ROW(12, Z29, Z12, Z13, Z14, Z15)
	W4ROW(16, Z28, Z16, Z17, Z18, Z19)
	W4ROW(20, Z29, Z20, Z21, Z22, Z23)
	ADDQ $64, R12
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  w4loop

	MOVQ c+32(FP), DI
	MOVQ ldc+40(FP), DX
	SHLQ $2, DX
	MOVQ rows+48(FP), SI
	MOVQ zero+56(FP), R8
	MOVQ scale+64(FP), R9
	MOVQ colSum+72(FP), R10
	MOVQ colScale+80(FP), R11
	MOVQ bias+88(FP), R13
	W4STORE(0, Z0, Z1, Z2, Z3)
	CMPQ SI, $1
	JLE  w4done
	ADDQ DX, DI
	W4STORE(4, Z4, Z5, Z6, Z7)
	CMPQ SI, $2
	JLE  w4done
	ADDQ DX, DI
	W4STORE(8, Z8, Z9, Z10, Z11)
	CMPQ SI, $3
	JLE  w4done
	ADDQ DX, DI
	W4STORE(12, Z12, Z13, Z14, Z15)
	CMPQ SI, $4
	JLE  w4done
	ADDQ DX, DI
	W4STORE(16, Z16, Z17, Z18, Z19)
	CMPQ SI, $5
	JLE  w4done
	ADDQ DX, DI
	W4STORE(20, Z20, Z21, Z22, Z23)

w4done:
	VZEROUPPER
	RET

// func dotLoopVNNI(n int)
//
// n iterations of 24 independent VPDPBUSD (24·64 u8·s8 multiply-adds):
// enough chains to hide its latency on two 512-bit pipes.
TEXT ·dotLoopVNNI(SB), NOSPLIT, $0-8
	MOVQ   n+0(FP), CX
	VPXORD Z24, Z24, Z24
	VPXORD Z25, Z25, Z25
	TESTQ  CX, CX
	JZ     dvdone
	PCALIGN $64

dvloop:
	VPDPBUSD Z24, Z25, Z0
	VPDPBUSD Z24, Z25, Z1
	VPDPBUSD Z24, Z25, Z2
	VPDPBUSD Z24, Z25, Z3
	VPDPBUSD Z24, Z25, Z4
	VPDPBUSD Z24, Z25, Z5
	VPDPBUSD Z24, Z25, Z6
	VPDPBUSD Z24, Z25, Z7
	VPDPBUSD Z24, Z25, Z8
	VPDPBUSD Z24, Z25, Z9
	VPDPBUSD Z24, Z25, Z10
	VPDPBUSD Z24, Z25, Z11
	VPDPBUSD Z24, Z25, Z12
	VPDPBUSD Z24, Z25, Z13
	VPDPBUSD Z24, Z25, Z14
	VPDPBUSD Z24, Z25, Z15
	VPDPBUSD Z24, Z25, Z16
	VPDPBUSD Z24, Z25, Z17
	VPDPBUSD Z24, Z25, Z18
	VPDPBUSD Z24, Z25, Z19
	VPDPBUSD Z24, Z25, Z20
	VPDPBUSD Z24, Z25, Z21
	VPDPBUSD Z24, Z25, Z22
	VPDPBUSD Z24, Z25, Z23
	DECQ     CX
	JNZ      dvloop

dvdone:
	VZEROUPPER
	RET

// DOT3 is the AVX2 kernel's multiply-accumulate (see QROW) into ACC via T.
#define DOT3(T, ACC) \
	VPMADDUBSW Y12, Y14, T \
	VPMADDWD   Y15, T, T \
	VPADDD     T, ACC, ACC

// func dotLoopAVX2(n int)
//
// n iterations of 8 independent VPMADDUBSW → VPMADDWD → VPADDD sequences
// (8·32 u8·s8 multiply-adds), the AVX2 kernel's own instruction mix.
TEXT ·dotLoopAVX2(SB), NOSPLIT, $0-8
	MOVQ  n+0(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y12, Y12, Y12
	VPXOR Y14, Y14, Y14
	VMOVDQU qones<>(SB), Y15
	TESTQ CX, CX
	JZ    dadone

daloop:
	DOT3(Y8, Y0)
	DOT3(Y9, Y1)
	DOT3(Y10, Y2)
	DOT3(Y11, Y3)
	DOT3(Y13, Y4)
	DOT3(Y8, Y5)
	DOT3(Y9, Y6)
	DOT3(Y10, Y7)
	DECQ CX
	JNZ  daloop

dadone:
	VZEROUPPER
	RET

// VDOTn_m is {vex} VPDPBUSD Ym, Y14, Yn (AVX-VNNI: Yn gains the dot
// products of Y14's uint8 quads with Ym's int8 quads), spelled in bytes:
// Go's assembler encodes VPDPBUSD only with EVEX, which needs AVX-512.
#define VDOT0_12 BYTE $0xC4; BYTE $0xC2; BYTE $0x0D; BYTE $0x50; BYTE $0xC4
#define VDOT1_13 BYTE $0xC4; BYTE $0xC2; BYTE $0x0D; BYTE $0x50; BYTE $0xCD
#define VDOT2_12 BYTE $0xC4; BYTE $0xC2; BYTE $0x0D; BYTE $0x50; BYTE $0xD4
#define VDOT3_13 BYTE $0xC4; BYTE $0xC2; BYTE $0x0D; BYTE $0x50; BYTE $0xDD
#define VDOT4_12 BYTE $0xC4; BYTE $0xC2; BYTE $0x0D; BYTE $0x50; BYTE $0xE4
#define VDOT5_13 BYTE $0xC4; BYTE $0xC2; BYTE $0x0D; BYTE $0x50; BYTE $0xED
#define VDOT6_12 BYTE $0xC4; BYTE $0xC2; BYTE $0x0D; BYTE $0x50; BYTE $0xF4
#define VDOT7_13 BYTE $0xC4; BYTE $0xC2; BYTE $0x0D; BYTE $0x50; BYTE $0xFD
#define VDOT8_12 BYTE $0xC4; BYTE $0x42; BYTE $0x0D; BYTE $0x50; BYTE $0xC4
#define VDOT9_13 BYTE $0xC4; BYTE $0x42; BYTE $0x0D; BYTE $0x50; BYTE $0xCD
#define VDOT10_12 BYTE $0xC4; BYTE $0x42; BYTE $0x0D; BYTE $0x50; BYTE $0xD4
#define VDOT11_13 BYTE $0xC4; BYTE $0x42; BYTE $0x0D; BYTE $0x50; BYTE $0xDD

// QROWV is QROW with one AVX-VNNI VPDPBUSD per 8 columns instead of three
// instructions.
#define QROWV(OFF, ACC0, ACC1) \
	VPBROADCASTD OFF(AX), Y14 \
	ACC0 \
	ACC1

// func qgemm6x16AVXVNNI(steps int, a *uint8, b *int8, c *float32, ldc, rows int, zero *int32, scale *float32, colSum *int32, colScale, bias *float32, pf *int8)
//
// qgemm6x16AVX2 on CPUs with AVX-VNNI (VEX-encoded VPDPBUSD on YMM, no
// AVX-512 needed): same loops, same dequantization, same results.
TEXT ·qgemm6x16AVXVNNI(SB), NOSPLIT, $0-96
	MOVQ steps+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ c+24(FP), DI
	MOVQ ldc+32(FP), DX
	SHLQ $2, DX
	MOVQ rows+40(FP), SI
	MOVQ zero+48(FP), R8
	MOVQ scale+56(FP), R9
	MOVQ colSum+64(FP), R10
	MOVQ colScale+72(FP), R11
	MOVQ bias+80(FP), R13
	MOVQ pf+88(FP), R12
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	CMPQ SI, $2
	JLE  vloop2
	CMPQ SI, $4
	JLE  vloop4

	PCALIGN $32
vloop:
	QLOAD
	QROWV(0, VDOT0_12, VDOT1_13)
	QROWV(4, VDOT2_12, VDOT3_13)
	QROWV(8, VDOT4_12, VDOT5_13)
	QROWV(12, VDOT6_12, VDOT7_13)
	QROWV(16, VDOT8_12, VDOT9_13)
	QROWV(20, VDOT10_12, VDOT11_13)
	QNEXT
	JNZ  vloop
	JMP  vdequant

	PCALIGN $32
vloop4:
	QLOAD
	QROWV(0, VDOT0_12, VDOT1_13)
	QROWV(4, VDOT2_12, VDOT3_13)
	QROWV(8, VDOT4_12, VDOT5_13)
	QROWV(12, VDOT6_12, VDOT7_13)
	QNEXT
	JNZ  vloop4
	JMP  vdequant

	PCALIGN $32
vloop2:
	QLOAD
	QROWV(0, VDOT0_12, VDOT1_13)
	QROWV(4, VDOT2_12, VDOT3_13)
	QNEXT
	JNZ  vloop2

vdequant:
	VMOVDQU (R10), Y12
	VMOVDQU 32(R10), Y13
	QSTORE(0, Y0, Y1)
	CMPQ SI, $1
	JLE  vdone
	ADDQ DX, DI
	QSTORE(4, Y2, Y3)
	CMPQ SI, $2
	JLE  vdone
	ADDQ DX, DI
	QSTORE(8, Y4, Y5)
	CMPQ SI, $3
	JLE  vdone
	ADDQ DX, DI
	QSTORE(12, Y6, Y7)
	CMPQ SI, $4
	JLE  vdone
	ADDQ DX, DI
	QSTORE(16, Y8, Y9)
	CMPQ SI, $5
	JLE  vdone
	ADDQ DX, DI
	QSTORE(20, Y10, Y11)

vdone:
	VZEROUPPER
	RET

// func dotLoopAVXVNNI(n int)
//
// n iterations of 12 independent AVX-VNNI VPDPBUSD (12·32 u8·s8
// multiply-adds), Y12·Y13 into Y0-Y11 (bytes as for VDOT).
TEXT ·dotLoopAVXVNNI(SB), NOSPLIT, $0-8
	MOVQ  n+0(FP), CX
	VPXOR Y0, Y0, Y0
	VPXOR Y1, Y1, Y1
	VPXOR Y2, Y2, Y2
	VPXOR Y3, Y3, Y3
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	VPXOR Y6, Y6, Y6
	VPXOR Y7, Y7, Y7
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	VPXOR Y10, Y10, Y10
	VPXOR Y11, Y11, Y11
	VPXOR Y12, Y12, Y12
	VPXOR Y13, Y13, Y13
	TESTQ CX, CX
	JZ    dxdone

dxloop:
	BYTE $0xC4; BYTE $0xC2; BYTE $0x15; BYTE $0x50; BYTE $0xC4
	BYTE $0xC4; BYTE $0xC2; BYTE $0x15; BYTE $0x50; BYTE $0xCC
	BYTE $0xC4; BYTE $0xC2; BYTE $0x15; BYTE $0x50; BYTE $0xD4
	BYTE $0xC4; BYTE $0xC2; BYTE $0x15; BYTE $0x50; BYTE $0xDC
	BYTE $0xC4; BYTE $0xC2; BYTE $0x15; BYTE $0x50; BYTE $0xE4
	BYTE $0xC4; BYTE $0xC2; BYTE $0x15; BYTE $0x50; BYTE $0xEC
	BYTE $0xC4; BYTE $0xC2; BYTE $0x15; BYTE $0x50; BYTE $0xF4
	BYTE $0xC4; BYTE $0xC2; BYTE $0x15; BYTE $0x50; BYTE $0xFC
	BYTE $0xC4; BYTE $0x42; BYTE $0x15; BYTE $0x50; BYTE $0xC4
	BYTE $0xC4; BYTE $0x42; BYTE $0x15; BYTE $0x50; BYTE $0xCC
	BYTE $0xC4; BYTE $0x42; BYTE $0x15; BYTE $0x50; BYTE $0xD4
	BYTE $0xC4; BYTE $0x42; BYTE $0x15; BYTE $0x50; BYTE $0xDC
	DECQ CX
	JNZ  dxloop

dxdone:
	VZEROUPPER
	RET

// func quantizeAVX512(x *float32, n int, dst *uint8, inv, zero float32)
//
// quantizeAVX2 sixteen values at a time (n a positive multiple of 16), with
// the same operations in the same order, so bit for bit the same bytes:
// VPMOVUSDB narrows the clamped int32s to bytes in one step, and the four
// groups of four go 24 bytes apart.
TEXT ·quantizeAVX512(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), AX
	MOVQ         n+8(FP), CX
	SHRQ         $4, CX
	MOVQ         dst+16(FP), DI
	VBROADCASTSS inv+24(FP), Z5
	VBROADCASTSS zero+28(FP), Z6
	VBROADCASTSS qhalf<>(SB), Z7
	VBROADCASTSS q255<>(SB), Z8
	VPXORD       Z9, Z9, Z9

q512loop:
	VMOVUPS    (AX), Z0
	VMULPS     Z5, Z0, Z0
	VADDPS     Z6, Z0, Z0
	VADDPS     Z7, Z0, Z0
	VMAXPS     Z9, Z0, Z0 // (x > 0) ? x : 0, so NaN → 0
	VMINPS     Z8, Z0, Z0
	VCVTTPS2DQ Z0, Z0
	VPMOVUSDB  Z0, X1
	VMOVD      X1, (DI)
	VPEXTRD    $1, X1, 24(DI)
	VPEXTRD    $2, X1, 48(DI)
	VPEXTRD    $3, X1, 72(DI)
	ADDQ       $64, AX
	ADDQ       $96, DI
	DECQ       CX
	JNZ        q512loop
	VZEROUPPER
	RET
