//go:build (amd64 || arm64) && !purego

package kernels

import "github.com/distilbert-go/distilbert/internal/freelist"

// blockedGemm is the cache-blocking driver shared by the SIMD
// implementations; each brings its micro-kernels and block sizes. A panel
// is `panel` columns of packed W ([in][panel] per panel, see packPanels),
// a row group `rows` rows of packed A (see packGroupRange and packA).
type blockedGemm struct {
	panel, rows int
	// kBlock is the K slice of a panel kept hot in L1 in the whole-panel
	// order; blisKBlock (0: kBlock) the K slice of the BLIS order, where a
	// longer one means fewer trips of the C tiles through L2/L3.
	kBlock, blisKBlock int
	// smallMGroups: up to this many row groups (a 128-token request), W
	// panels stream whole, front to back, with prefetch of the next slice.
	smallMGroups int
	// rowBlockGroups bounds the row groups whose packed A slice stays in
	// L2 in the BLIS order used for more rows.
	rowBlockGroups int
	// prefetchShare: in the whole-panel order (W streams from memory) the
	// first prefetchShare calls of a block share the next B slice, each
	// fetching its part at the pace of its own k loop, so that the misses
	// spread over more of the slice's arithmetic instead of bunching up in
	// the first call (where they overflow the fill buffers). In the BLIS
	// order B comes from L2 and the first call fetches it all.
	prefetchShare int
	// kernel computes C[rows][panel] = [Cin +] A·B for a group with `valid`
	// real rows (it may skip the FMAs of padding rows), C rows ldc floats
	// apart, Cin (nil: none; it may be C) rows ldcin apart. pf, unless nil,
	// is where to prefetch (into L2) while computing: prefetchesPerK
	// prefetches per k, pfStep bytes apart (0: the kernel never does).
	kernel         func(valid, k int, a, b, c *float32, ldc int, cin *float32, ldcin int, pf *float32, pfStep int)
	prefetchesPerK int
	// exactRows has bit r set when kernel, given r valid rows, writes
	// exactly r rows of C; other counts go through a scratch tile.
	exactRows uint64
	// prefetchC, unless nil, prefetches rows rows of width bytes, ldc
	// floats apart (the C tile of a row group).
	prefetchC func(c *float32, ldc, rows, width int)
	// packGroup, unless nil, packs one whole row group's K slice faster
	// than the portable packRowGroup (see packGroupRange).
	packGroup func(dst, x []float32, in, ldx int)
	// tiles holds rows×panel scratch tiles for blocks that overhang M or N:
	// pooled, because a tile on the stack would escape through the kernel
	// func value and cost an allocation per call.
	tiles *freelist.List[[]float32]
	// sums, unless nil, holds smallMGroups×rows×panel floats: in the
	// whole-panel order, a panel's partial sums between its K slices (see
	// gemm and withSums).
	sums *freelist.List[[]float32]
}

// gemm computes dst[:, c0:c1] with one of two loop orders:
//
//   - few rows (≤ smallMGroups, e.g. batch-1 requests): each W panel is
//     streamed once, front to back through every K slice, which the
//     hardware prefetcher follows; the packed A stays in L1/L2. The
//     panel's partial sums stay in a few KiB of sums between its K slices
//     and only the last slice writes C, prefetching each group's C tile
//     while the group before it runs: C's rows lie a whole row of the
//     output apart, so its tiles come from L3 or memory, and reading and
//     writing them once per slice costs most when other work loads the
//     memory system.
//   - many rows: BLIS order. Per K slice, blocks of rowBlockGroups groups
//     (their packed A slice stays in L2) meet every panel slice (stays in
//     L1 while each row group of the block uses it).
//
// The bias joins the first K slice's sum (the kernels' sum source, one row
// for every row of C), so that the epilogue (the activation, if any) runs
// on blocks of about epilogueCols finished columns right after their last
// K slice, while they are still in L2; products without one have none.
func (g *blockedGemm) gemm(dst []float32, ldd int, a []float32, _, m int, w *Matrix, c0, c1 int, ep *epilogue) {
	p := gemmPass{dst: dst, ldd: ldd, a: a, m: m, w: w}
	var rest epilogue
	if ep != nil {
		p.bias = ep.bias
		rest = epilogue{im: ep.im, act: ep.act}
		ep = rest.active()
	}
	in := w.In
	groups := (m + g.rows - 1) / g.rows
	kb := g.slice(m)
	if groups <= g.smallMGroups {
		if in > kb && g.sums != nil {
			p.sums = g.sums.Get()
			*p.sums = grow(*p.sums, groups*g.rows*g.panel) // grows only where a test raised smallMGroups
		}
		done := c0 // columns before done are finished
		for col := c0; col < c1; col += g.panel {
			col1 := min(col+g.panel, c1)
			for k0 := 0; k0 < in; k0 += kb {
				// The next slice in memory order is the next one used
				// (prefetching further ahead gained nothing).
				g.block(&p, col, col1, k0, kb, 0, groups, g.sliceAt(w, col, k0+kb), false)
			}
			if col1-done >= epilogueCols || col1 == c1 {
				ep.apply(dst, ldd, 0, m, done, col1)
				done = col1
			}
		}
		g.release(&p)
		return
	}
	for k0 := 0; k0 < in; k0 += kb {
		last := k0+kb >= in
		for g0 := 0; g0 < groups; g0 += g.rowBlockGroups {
			g1 := min(g0+g.rowBlockGroups, groups)
			done := c0
			for col := c0; col < c1; col += g.panel {
				col1 := min(col+g.panel, c1)
				// The next panel's slice of this K range comes next.
				g.block(&p, col, col1, k0, kb, g0, g1, g.sliceAt(w, col+g.panel, k0), true)
				if last && (col1-done >= epilogueCols || col1 == c1) {
					ep.apply(dst, ldd, g0*g.rows, min(g1*g.rows, m), done, col1)
					done = col1
				}
			}
		}
	}
	g.release(&p)
}

// withSums gives g a free list of partial-sum scratch for the whole-panel
// order (see gemm) and returns it.
func (g *blockedGemm) withSums() *blockedGemm {
	g.sums = newTilePool(g.smallMGroups*g.rows, g.panel)
	return g
}

// gemmPass is what every block of one gemm call shares.
type gemmPass struct {
	dst  []float32 // C, rows ldd floats apart
	ldd  int
	a    []float32 // packed A
	m    int
	w    *Matrix
	bias []float32 // nil: none
	// sums, unless nil, holds the partial sums of a panel between its K
	// slices (whole-panel order).
	sums *[]float32
	// biasPad, once needed, holds the bias of a last, partial panel padded
	// with zeros to a whole one: the kernels read whole panels.
	biasPad *[]float32
}

// biasAt returns the bias of the panel starting at column col as the
// kernels read it, a whole panel of floats, or nil without a bias.
func (g *blockedGemm) biasAt(p *gemmPass, col int) *float32 {
	switch {
	case p.bias == nil:
		return nil
	case col+g.panel <= len(p.bias):
		return &p.bias[col]
	}
	if p.biasPad == nil {
		p.biasPad = g.tiles.Get()
	}
	pad := (*p.biasPad)[:g.panel]
	clear(pad[copy(pad, p.bias[col:]):])
	return &pad[0]
}

// release returns p's scratch to g's free lists.
func (g *blockedGemm) release(p *gemmPass) {
	if p.sums != nil {
		g.sums.Put(p.sums)
	}
	if p.biasPad != nil {
		g.tiles.Put(p.biasPad)
	}
}

// packA packs row groups g0…g1-1 of x for gemm, K sliced as gemm slices
// it: an Impl's packA.
func (g *blockedGemm) packA(a, x []float32, m, in, ldx, g0, g1 int) {
	packGroupRange(a, x, m, in, ldx, g.rows, g.slice(m), g0, g1, g.packGroup)
}

// slice is the K slice gemm uses for m rows (the loop order's): an Impl's
// aSlice.
func (g *blockedGemm) slice(m int) int {
	if (m+g.rows-1)/g.rows <= g.smallMGroups || g.blisKBlock == 0 {
		return g.kBlock
	}
	return g.blisKBlock
}

// sliceAt returns the offset in w.data of the packed W slice of the panel
// of column col from K row k0 (past the end for slices past the last).
func (g *blockedGemm) sliceAt(w *Matrix, col, k0 int) int {
	return col/g.panel*w.In*g.panel + k0*g.panel
}

// prefetchPlan returns how many calls of a block (row groups g0…g1-1 of
// m rows) share the prefetch of the next B slice, the first ones, and their
// rows in all. The slice is split among them in parts
// proportional to their rows, to how long each call runs (prefetchPart).
func (g *blockedGemm) prefetchPlan(m, g0, g1 int, blis bool) (sharers, sharedRows int) {
	if g.prefetchesPerK == 0 {
		return 0, 0
	}
	sharers = min(g.prefetchShare, g1-g0)
	if blis {
		sharers = 1
	}
	return sharers, min(m-g0*g.rows, sharers*g.rows)
}

// prefetchPart returns the floats of the next slice (kb panel rows) that a
// sharing call of rows rows prefetches, and the step in bytes between its
// kc·prefetchesPerK prefetches that covers them: at most a line, so that
// a short slice (kc < kb) covers the start of its part without gaps.
func (g *blockedGemm) prefetchPart(kb, kc, rows, sharedRows int) (share, step int) {
	share = (kb*g.panel*rows + sharedRows - 1) / sharedRows
	return share, min(64, (4*share+kc*g.prefetchesPerK-1)/(kc*g.prefetchesPerK))
}

// block runs the micro-kernel for one panel (columns col…col1-1), one K
// slice of (up to) kb starting at k0, and row groups g0…g1-1.
//
// The first calls prefetch the B slice at offset next of w.data as they
// go (see prefetchShare). The first slice adds the bias to its sums. With
// p.sums (whole-panel order, several K slices) the groups' partial sums go
// to p.sums until the last slice, which adds them to its own and writes C;
// without, each slice after the first adds C to its own. Whenever a slice
// writes C, each call prefetches the next group's C tile.
func (g *blockedGemm) block(p *gemmPass, col, col1, k0, kb, g0, g1, next int, blis bool) {
	dst, ldd, m, w := p.dst, p.ldd, p.m, p.w
	in := w.In
	kc := min(kb, in-k0)
	last := k0+kc >= in
	cols := col1 - col
	bp := &w.data[(col/g.panel*in+k0)*g.panel]
	// This K slice of every row group, group after group (packGroupRange).
	slice := p.a[k0*((m+g.rows-1)/g.rows)*g.rows:]
	var bias *float32
	if k0 == 0 {
		bias = g.biasAt(p, col)
	}
	sharers, sharedRows := g.prefetchPlan(m, g0, g1, blis)
	pfOff, sharer := next, 0
	var tile *[]float32
	for grp := g0; grp < g1; grp++ {
		ap := &slice[grp*kc*g.rows]
		row := grp * g.rows
		rows := min(g.rows, m-row)
		var pf *float32
		step := 0
		if sharer < sharers {
			var share int
			share, step = g.prefetchPart(kb, kc, rows, sharedRows)
			// Clamped: prefetching past W is harmless, but a Go pointer
			// must stay inside its allocation.
			pf = &w.data[min(pfOff, len(w.data)-1)]
			pfOff += share
			sharer++
		}
		// What the sum adds: the bias (one row for all), the partial sums
		// or C, or nothing.
		cin, ldcin := bias, 0
		if p.sums != nil {
			part := (*p.sums)[grp*g.rows*g.panel : (grp+1)*g.rows*g.panel]
			if k0 > 0 {
				cin, ldcin = &part[0], g.panel
			}
			if !last {
				g.kernel(rows, kc, ap, bp, &part[0], g.panel, cin, ldcin, pf, step)
				continue
			}
		}
		if g.prefetchC != nil && grp+1 < g1 {
			next := row + g.rows
			g.prefetchC(&dst[next*ldd+col], ldd, min(g.rows, m-next), g.panel*4)
		}
		if cols == g.panel && g.exactRows&(1<<rows) != 0 {
			c := &dst[row*ldd+col]
			_ = dst[(row+rows-1)*ldd+col+cols-1] // the kernel's last write
			if p.sums == nil && k0 > 0 {
				cin, ldcin = c, ldd
			}
			g.kernel(rows, kc, ap, bp, c, ldd, cin, ldcin, pf, step)
			continue
		}
		if tile == nil {
			tile = g.tiles.Get()
		}
		g.kernel(rows, kc, ap, bp, &(*tile)[0], g.panel, cin, ldcin, pf, step)
		mergeTile(dst, *tile, row, rows, col, cols, ldd, g.panel, p.sums == nil && k0 > 0)
	}
	if tile != nil {
		g.tiles.Put(tile)
	}
}

// newTilePool returns a free list of rows×panel float32 tiles.
func newTilePool(rows, panel int) *freelist.List[[]float32] {
	return &freelist.List[[]float32]{New: func() *[]float32 { t := make([]float32, rows*panel); return &t }}
}

// mergeTile copies (or adds, when accumulating) rows×cols of a tile with
// rows width floats apart into dst at (row, col).
func mergeTile(dst, tile []float32, row, rows, col, cols, ldc, width int, acc bool) {
	for r := 0; r < rows; r++ {
		d := dst[(row+r)*ldc+col : (row+r)*ldc+col+cols]
		t := tile[r*width : r*width+cols]
		if acc {
			for j := range d {
				d[j] += t[j]
			}
		} else {
			copy(d, t)
		}
	}
}
