package kernels

// Packing shared by the SIMD implementations; each picks its own panel
// width and row-group size.

// packPanels lays W[out][in] out as ⌈out/width⌉ panels of [in][width], so a
// micro-kernel reads the width output columns of one k contiguously. The
// last panel is zero-padded. W[o][i] is w[o*ld+i], or w[i*ld+o] when
// transposed (then each panel row is a contiguous copy). dst is reused when
// large enough.
func packPanels(dst, w []float32, out, in, ld int, transposed bool, width int) []float32 {
	return packPanelsWith(dst, w, out, in, ld, transposed, width, nil)
}

// packPanelsWith is packPanels with full, unless nil, packing the leading
// k values of a panel's leading multiple of 8 columns faster (rows rows of
// w at its first row, ld apart, into dst with panel rows width apart); it
// returns how many k it did.
func packPanelsWith(dst, w []float32, out, in, ld int, transposed bool, width int, full func(dst, w []float32, in, ld, rows int) int) []float32 {
	panels := (out + width - 1) / width
	n := panels * in * width
	if cap(dst) < n {
		dst = hugeSlice[float32](n)
	}
	p := dst[:n]
	if transposed {
		for panel := 0; panel < panels; panel++ {
			col := panel * width
			cols := min(width, out-col)
			for k := 0; k < in; k++ {
				d := p[(panel*in+k)*width : (panel*in+k+1)*width]
				copy(d, w[k*ld+col:k*ld+col+cols])
				clear(d[cols:])
			}
		}
		return p
	}
	if out%width != 0 {
		clear(p[(panels-1)*in*width:])
	}
	for panel := 0; panel < panels; panel++ {
		col0, base := panel*width, panel*in*width
		cols := min(width, out-col0)
		fast, k0 := 0, 0 // columns col0…col0+fast are packed for k < k0
		if full != nil && cols >= 8 {
			fast = cols &^ 7
			k0 = full(p[base:base+in*width], w[col0*ld:], in, ld, fast)
		}
		for j := col0; j < col0+cols; j++ {
			from := 0
			if j < col0+fast {
				from = k0
			}
			for k, v := range w[j*ld+from : j*ld+in] {
				p[base+(from+k)*width+j-col0] = v
			}
		}
	}
	return p
}

// packRowGroup writes one group: valid rows of x (ldx apart) k-major into
// dst ([in][rows]), the rows past valid zero. Four rows per pass, k by k:
// one strided pass per row took 1.7–2.5× as long for a 4-row group of
// 768 or 3072 (blocks that outgrow L1 are written back once, not once
// per row).
func packRowGroup(dst, x []float32, valid, in, ldx, rows int) {
	dst = dst[:in*rows]
	if valid < rows {
		clear(dst) // one sequential pass, not a strided one per padding row
	}
	for r := 0; r < valid; r += 4 {
		packFourRows(dst[r:], x[r*ldx:], min(4, valid-r), in, ldx, rows)
	}
}

// packFourRows writes n ≤ 4 rows of x (ldx apart, in values each) k-major
// into dst, stride floats per k.
func packFourRows(dst, x []float32, n, in, ldx, stride int) {
	r0 := x[:in]
	switch n {
	case 1:
		for k, v := range r0 {
			dst[k*stride] = v
		}
	case 2:
		r1 := x[ldx:][:in]
		for k := range r0 {
			d := dst[k*stride:][:2]
			d[0], d[1] = r0[k], r1[k]
		}
	case 3:
		r1, r2 := x[ldx:][:in], x[2*ldx:][:in]
		for k := range r0 {
			d := dst[k*stride:][:3]
			d[0], d[1], d[2] = r0[k], r1[k], r2[k]
		}
	case 4:
		r1, r2, r3 := x[ldx:][:in], x[2*ldx:][:in], x[3*ldx:][:in]
		for k := range r0 {
			d := dst[k*stride:][:4]
			d[0], d[1], d[2], d[3] = r0[k], r1[k], r2[k], r3[k]
		}
	}
}

// packGroupRange packs row groups g0…g1-1 of x ([m][in], rows ldx apart)
// into a, laid out for the blocked GEMM: groups of rows rows, k-major in a
// group, and K cut into slices of kb. Slice s (k0 = s·kb, kc = min(kb,
// in−k0)) holds every group's kc×rows block, one after the other, from
// k0·G·rows on (G = ⌈m/rows⌉). A micro-kernel call reads one group's block
// of a slice and the next call the block right after it, so the row groups
// that meet a panel slice are one sequential stream, which L2 serves
// faster than blocks a whole group ([in][rows]) apart.
// Rows past m are zero. full, unless nil, packs a whole group's block
// (x at its first row and column, rows ldx apart) faster than packRowGroup.
func packGroupRange(a, x []float32, m, in, ldx, rows, kb, g0, g1 int, full func(dst, x []float32, in, ldx int)) {
	groups := (m + rows - 1) / rows
	for k0 := 0; k0 < in; k0 += kb {
		kc := min(kb, in-k0)
		slice := a[k0*groups*rows : (k0+kc)*groups*rows]
		for g := g0; g < g1; g++ {
			dst, xg := slice[g*kc*rows:(g+1)*kc*rows], x[g*rows*ldx+k0:]
			if n := min(rows, m-g*rows); n == rows && full != nil {
				full(dst, xg, kc, ldx)
			} else {
				packRowGroup(dst, xg, n, kc, ldx, rows)
			}
		}
	}
}
