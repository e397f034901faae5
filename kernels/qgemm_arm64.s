//go:build arm64 && !purego

#include "textflag.h"
#include "neon_arm64.h"

// SDOT_ELEM(d, n, m, i) is
//
//	SDOT Vd.4S, Vn.16B, Vm.4B[i]
//
// (signed 8-bit dot product by element, FEAT_DotProd), which Go's
// assembler has no mnemonic for: each 32-bit lane of Vd gains the dot
// product of its 4 bytes of Vn with the 4 bytes of Vm's lane i. Encoding
// (Arm ARM C7.2.290, Q=1, size=10): 0x4F80E000 | L<<21 | M:Rm<<16 |
// H<<11 | Rn<<5 | Rd, where i = H:L and M:Rm is the register number m.
// Example: SDOT_ELEM(0, 1, 2, 0) = WORD $0x4F82E020.
#define SDOT_ELEM(d, n, m, i) WORD $(0x4F80E000 | (((i)&1)<<21) | ((m)<<16) | (((i)>>1)<<11) | ((n)<<5) | (d))

// QLOAD loads one K step (4 k) of the 6×16 int8 micro-kernel: the panel's
// 16 columns × 4 weights into V24-V27 (4 columns each, a column's 4
// weights adjacent, as SDOT wants them), the six rows' 4 inputs into V28
// (rows 0-3) and V29 (rows 4-5), flipped from uint8 to int8 (x − 128, by
// XOR 0x80). QROWS01, QROWS23 and QROWS45 then add V(24+q) · row r into
// V(4r+q) for their two rows and the 4 quads.
#define QLOAD \
	VLD1.P 64(R1), [V24.B16, V25.B16, V26.B16, V27.B16] \
	VLD1.P 16(R0), [V28.B16] \
	VLD1.P 8(R0), [V29.B8] \
	VEOR   V30.B16, V28.B16, V28.B16 \
	VEOR   V30.B16, V29.B16, V29.B16

#define QROWS01 \
	SDOT_ELEM(0, 24, 28, 0) \
	SDOT_ELEM(1, 25, 28, 0) \
	SDOT_ELEM(2, 26, 28, 0) \
	SDOT_ELEM(3, 27, 28, 0) \
	SDOT_ELEM(4, 24, 28, 1) \
	SDOT_ELEM(5, 25, 28, 1) \
	SDOT_ELEM(6, 26, 28, 1) \
	SDOT_ELEM(7, 27, 28, 1)

#define QROWS23 \
	SDOT_ELEM(8, 24, 28, 2) \
	SDOT_ELEM(9, 25, 28, 2) \
	SDOT_ELEM(10, 26, 28, 2) \
	SDOT_ELEM(11, 27, 28, 2) \
	SDOT_ELEM(12, 24, 28, 3) \
	SDOT_ELEM(13, 25, 28, 3) \
	SDOT_ELEM(14, 26, 28, 3) \
	SDOT_ELEM(15, 27, 28, 3)

#define QROWS45 \
	SDOT_ELEM(16, 24, 29, 0) \
	SDOT_ELEM(17, 25, 29, 0) \
	SDOT_ELEM(18, 26, 29, 0) \
	SDOT_ELEM(19, 27, 29, 0) \
	SDOT_ELEM(20, 24, 29, 1) \
	SDOT_ELEM(21, 25, 29, 1) \
	SDOT_ELEM(22, 26, 29, 1) \
	SDOT_ELEM(23, 27, 29, 1)

// func qdot6x16NEON(steps int, a *uint8, b *int8, sums *int32, rows int)
//
// sums[6][16] = Σ_k (a[r][k] − 128) · b[j][k] over a packed 6-row group
// and a 16-column panel (see qSumsGo for the layouts); the caller adds
// 128 · Σ_k b[j][k] back. Rows from rows on (rounded up to even) are not
// computed and stay 0: a 20-token request is 6+6+6+2 rows.
TEXT ·qdot6x16NEON(SB), NOSPLIT, $0-40
	MOVD steps+0(FP), R3
	MOVD a+8(FP), R0
	MOVD b+16(FP), R1
	MOVD sums+24(FP), R2
	MOVD rows+32(FP), R4
	VMOVI $128, V30.B16
	ZERO_V0_V23

	CMP $2, R4
	BLE loop2
	CMP $4, R4
	BLE loop4

loop:
	QLOAD
	QROWS01
	QROWS23
	QROWS45
	SUBS $1, R3, R3
	BNE  loop
	B    store

loop4:
	QLOAD
	QROWS01
	QROWS23
	SUBS $1, R3, R3
	BNE  loop4
	B    store

loop2:
	QLOAD
	QROWS01
	SUBS $1, R3, R3
	BNE  loop2

store:
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R2)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R2)
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R2)
	VST1.P [V12.S4, V13.S4, V14.S4, V15.S4], 64(R2)
	VST1.P [V16.S4, V17.S4, V18.S4, V19.S4], 64(R2)
	VST1.P [V20.S4, V21.S4, V22.S4, V23.S4], 64(R2)
	RET

// func dotLoopSDOT(n int)
//
// n iterations of 24 independent SDOTs (24·16 int8 multiply-adds):
// enough chains to hide its latency on up to four 128-bit pipes.
TEXT ·dotLoopSDOT(SB), NOSPLIT, $0-8
	MOVD n+0(FP), R0
	ZERO_V0_V23
	VEOR V30.B16, V30.B16, V30.B16
	VEOR V31.B16, V31.B16, V31.B16
	CBZ  R0, sdone

sloop:
	SDOT_ELEM(0, 30, 31, 0)
	SDOT_ELEM(1, 30, 31, 0)
	SDOT_ELEM(2, 30, 31, 0)
	SDOT_ELEM(3, 30, 31, 0)
	SDOT_ELEM(4, 30, 31, 0)
	SDOT_ELEM(5, 30, 31, 0)
	SDOT_ELEM(6, 30, 31, 0)
	SDOT_ELEM(7, 30, 31, 0)
	SDOT_ELEM(8, 30, 31, 0)
	SDOT_ELEM(9, 30, 31, 0)
	SDOT_ELEM(10, 30, 31, 0)
	SDOT_ELEM(11, 30, 31, 0)
	SDOT_ELEM(12, 30, 31, 0)
	SDOT_ELEM(13, 30, 31, 0)
	SDOT_ELEM(14, 30, 31, 0)
	SDOT_ELEM(15, 30, 31, 0)
	SDOT_ELEM(16, 30, 31, 0)
	SDOT_ELEM(17, 30, 31, 0)
	SDOT_ELEM(18, 30, 31, 0)
	SDOT_ELEM(19, 30, 31, 0)
	SDOT_ELEM(20, 30, 31, 0)
	SDOT_ELEM(21, 30, 31, 0)
	SDOT_ELEM(22, 30, 31, 0)
	SDOT_ELEM(23, 30, 31, 0)
	SUBS $1, R0, R0
	BNE  sloop

sdone:
	RET
