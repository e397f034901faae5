package kernels

import (
	"math"

	"github.com/distilbert-go/distilbert/internal/freelist"
)

// AttnSeq is one sequence of a stacked batch, for Attention.
type AttnSeq struct {
	Q, NQ int    // first row and number of its query rows in q and ctx
	K, NK int    // first row and number of its key rows in k and v
	Mask  []bool // nil, or NK flags: false masks that key out
}

// attnScratch is one worker's buffers for one (sequence, head) item.
type attnScratch struct {
	kMat, vMat Matrix
	a, p       []float32
	scores     []float32
}

var attnScratchPool freelist.List[attnScratch]

// Attention computes, for every sequence and head h,
//
//	ctx_h = softmax(q_h · k_hᵀ + mask) · v_h
//
// where q, k, v and ctx are [rows][ld] with the heads side by side (head h
// in columns h·headDim … h·headDim+headDim-1). q must already carry the
// 1/√headDim scale. Masked keys get float32's lowest value, as Hugging Face
// does, so a fully masked row averages v uniformly exactly like PyTorch.
// Both products run on the implementation's GEMM: K and V slices are packed
// straight from their strided rows, so nothing is transposed or copied out
// first. (sequence, head) items are spread over the worker pool.
func (im *Impl) Attention(ctx, q, k, v []float32, ld, heads, headDim int, seqs []AttnSeq) {
	im.attention(ctx, q, k, v, ld, heads, headDim, seqs, attnDirectRows)
}

// attention is Attention with items of up to directRows queries computed
// by dot products and axpys (attentionDirect), the others by GEMMs.
func (im *Impl) attention(ctx, q, k, v []float32, ld, heads, headDim int, seqs []AttnSeq, directRows int) {
	items := len(seqs) * heads
	work := 0
	for _, s := range seqs {
		work += s.NQ * s.NK * headDim * heads
	}
	at := attnTaskPool.Get()
	*at = attnTask{im: im, ctx: ctx, q: q, k: k, v: v, ld: ld, heads: heads, hd: headDim, seqs: seqs, directRows: directRows}
	if items < 2 || work < attnParallelMinMACs {
		for i := 0; i < items; i++ {
			at.run(i)
		}
	} else {
		parallelFor(items, at)
	}
	*at = attnTask{}
	attnTaskPool.Put(at)
}

// attnParallelMinMACs is the smallest Attention call spread over the
// worker pool. Per multiply-add attention costs several times a Linear's
// (per head: packing K and V, a softmax per query, two small products), so
// 12 heads of a few tokens are worth two cores where a Linear of as many
// MACs is not.
const attnParallelMinMACs = parallelMinMACs / 8

// attnTask is one Attention call split into (sequence, head) items.
type attnTask struct {
	im            *Impl
	ctx, q, k, v  []float32
	ld, heads, hd int
	seqs          []AttnSeq
	directRows    int
}

var attnTaskPool freelist.List[attnTask]

func (t *attnTask) run(i int) {
	t.im.attentionItem(t.ctx, t.q, t.k, t.v, t.ld, t.hd, &t.seqs[i/t.heads], i%t.heads, t.directRows)
}

func (im *Impl) attentionItem(ctx, q, k, v []float32, ld, hd int, s *AttnSeq, h, directRows int) {
	sc := attnScratchPool.Get()
	defer attnScratchPool.Put(sc)
	off := h * hd
	if s.NQ <= directRows {
		im.attentionDirect(sc, ctx, q, k, v, ld, hd, s, off)
		return
	}
	// scores[NQ][NK] = q_h · k_hᵀ
	im.repack(&sc.kMat, k[s.K*ld+off:], s.NK, hd, ld, false)
	qh := q[s.Q*ld+off:]
	a := im.packRows(&sc.a, qh, s.NQ, hd, ld)
	if cap(sc.scores) < s.NQ*s.NK {
		sc.scores = make([]float32, s.NQ*s.NK)
	}
	scores := sc.scores[:s.NQ*s.NK]
	im.gemm(scores, s.NK, a, ld, s.NQ, &sc.kMat, 0, s.NK, nil)
	for r := 0; r < s.NQ; r++ {
		row := scores[r*s.NK : r*s.NK+s.NK]
		if s.Mask != nil {
			for j, keep := range s.Mask[:len(row)] {
				if !keep {
					row[j] = -math.MaxFloat32
				}
			}
		}
		im.Softmax(row)
	}
	// ctx_h[NQ][hd] = scores · v_h, written in place into ctx's head columns.
	im.repack(&sc.vMat, v[s.K*ld+off:], hd, s.NK, ld, true)
	p := im.packRows(&sc.p, scores, s.NQ, s.NK, s.NK)
	im.gemm(ctx[s.Q*ld+off:], ld, p, s.NK, s.NQ, &sc.vMat, 0, hd, nil)
}

// attnDirectRows is the most query rows computed by dot products and axpys
// rather than GEMMs: packing K and V into panels costs ~4 query rows' worth
// of direct work (on AVX2, 12 heads of 64: one query, the last layer's
// [CLS], runs several times faster direct; 16 queries run slower).
const attnDirectRows = 4

// attentionDirect is attentionItem row by row: scores by Dot, ctx by Axpy,
// reading K and V in place.
func (im *Impl) attentionDirect(sc *attnScratch, ctx, q, k, v []float32, ld, hd int, s *AttnSeq, off int) {
	if cap(sc.scores) < s.NK {
		sc.scores = make([]float32, s.NK)
	}
	row := sc.scores[:s.NK]
	for r := 0; r < s.NQ; r++ {
		qr := q[(s.Q+r)*ld+off:][:hd]
		for j := range row {
			row[j] = im.Dot(qr, k[(s.K+j)*ld+off:][:hd])
		}
		if s.Mask != nil {
			for j, keep := range s.Mask[:len(row)] {
				if !keep {
					row[j] = -math.MaxFloat32
				}
			}
		}
		im.Softmax(row)
		out := ctx[(s.Q+r)*ld+off:][:hd]
		clear(out)
		for j, p := range row {
			im.Axpy(p, v[(s.K+j)*ld+off:][:hd], out)
		}
	}
}
