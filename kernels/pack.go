package kernels

// Packing shared by the SIMD implementations; each picks its own panel
// width and row-group size.

// packPanels lays W[out][in] out as ⌈out/width⌉ panels of [in][width], so a
// micro-kernel reads the width output columns of one k contiguously. The
// last panel is zero-padded. W[o][i] is w[o*ld+i], or w[i*ld+o] when
// transposed (then each panel row is a contiguous copy). dst is reused when
// large enough.
func packPanels(dst, w []float32, out, in, ld int, transposed bool, width int) []float32 {
	panels := (out + width - 1) / width
	n := panels * in * width
	if cap(dst) < n {
		dst = make([]float32, n)
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
	for j := 0; j < out; j++ {
		panel, col := j/width, j%width
		base := panel * in * width
		for k, v := range w[j*ld : j*ld+in] {
			p[base+k*width+col] = v
		}
	}
	return p
}

// rowGroupsBuffer returns buf (or a new slice) sized for m rows of in
// values packed in groups of rows: ⌈m/rows⌉·rows·in floats.
func rowGroupsBuffer(buf []float32, m, in, rows int) []float32 {
	need := (m + rows - 1) / rows * rows * in
	if cap(buf) < need {
		buf = make([]float32, need)
	}
	return buf[:need]
}

// packRowGroup writes one group: valid rows of x (ldx apart) k-major into
// dst ([in][rows]), the rows past valid zero.
func packRowGroup(dst, x []float32, valid, in, ldx, rows int) {
	dst = dst[:in*rows]
	if valid < rows {
		clear(dst) // one sequential pass, not a strided one per padding row
	}
	for r := 0; r < valid; r++ {
		for k, v := range x[r*ldx : r*ldx+in] {
			dst[k*rows+r] = v
		}
	}
}

// packRowGroups lays x ([m][in], rows ldx apart) out group-major in groups
// of rows rows, k-major within a group ([group][in][rows]), rows past m
// zero: a micro-kernel then reads one contiguous stream, and any range of
// whole groups can be packed on its own.
func packRowGroups(buf, x []float32, m, in, ldx, rows int) []float32 {
	return packGroups(buf, x, m, in, ldx, rows, nil)
}

// packGroups is packRowGroups with full, unless nil, packing each whole
// group (x's first row of it, rows ldx apart) faster than packRowGroup.
func packGroups(buf, x []float32, m, in, ldx, rows int, full func(dst, x []float32, in, ldx int)) []float32 {
	buf = rowGroupsBuffer(buf, m, in, rows)
	for g := 0; g*rows < m; g++ {
		dst, xg := buf[g*rows*in:(g+1)*rows*in], x[g*rows*ldx:]
		if n := min(rows, m-g*rows); n == rows && full != nil {
			full(dst, xg, in, ldx)
		} else {
			packRowGroup(dst, xg, n, in, ldx, rows)
		}
	}
	return buf
}
