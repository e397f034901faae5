package distilbert

import (
	"github.com/distilbert-go/distilbert/kernels"
)

// Sequence is one input of a batch: token ids ([CLS] … [SEP]) and an
// optional attention mask (nil means every position is attended).
// Positions are numbered from 0 at IDs[0] whatever the mask says, as in
// Hugging Face, so a right-padded row gives the same logits as the row alone.
type Sequence struct {
	IDs  []int32
	Mask []bool
}

// workspace holds every activation buffer of one forward pass so that
// steady-state inference allocates nothing; buffers only grow.
type workspace struct {
	x, tmp, q, k, v, ctx []float32 // [tokens][dim]
	hidden               []float32 // [tokens][hidden_dim]
	cls, pooled          []float32 // [batch][dim]
	headIn, headOut      []float32 // [batch][dim]: one head's rows (clsAttention)
	clsQ, clsY           []float32 // [batch·heads][dim]: queries and averaged inputs (clsAttention)
	offsets              []int     // start row of each sequence, plus the total
	attn                 []kernels.AttnSeq
	trace                traceFunc
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// traceFunc, when set, receives the hidden states [tokens][dim] after the
// embeddings (stage 0) and after each layer (stage i+1), then the pooled
// ReLU(pre_classifier) rows [batch][dim] (stage n_layers+1). Tests use it
// to compare with per-layer goldens.
type traceFunc func(stage int, hidden []float32)

// Forward runs the batch and writes len(Config.Labels) logits per sequence,
// in batch order, into logits. It is safe for concurrent use. Each call
// runs in a workspace sized to its batch; workspaces are kept for reuse,
// as many as there were concurrent calls at most, so that steady-state
// calls allocate nothing.
func (m *Model) Forward(batch []Sequence, logits []float32) error {
	return m.forward(batch, logits, nil)
}

func (m *Model) forward(batch []Sequence, logits []float32, trace traceFunc) error {
	if err := m.Config.ValidateBatch(batch, logits); err != nil {
		return err
	}
	if len(batch) == 0 {
		return nil
	}
	ws := m.workspaces.Get()
	defer m.workspaces.Put(ws)
	ws.trace = trace
	defer func() { ws.trace = nil }()

	c := &m.Config
	d := c.Dim
	// Sequences are stacked without padding: row offsets[i] is the [CLS] of
	// sequence i. Linear layers then run once over every token of the batch.
	ws.offsets = ws.offsets[:0]
	tokens, maxLen := 0, 0
	for _, s := range batch {
		ws.offsets = append(ws.offsets, tokens)
		tokens += len(s.IDs)
		maxLen = max(maxLen, len(s.IDs))
	}
	ws.offsets = append(ws.offsets, tokens)
	ws.x = grow(ws.x, tokens*d)
	ws.tmp = grow(ws.tmp, tokens*d)
	ws.q = grow(ws.q, tokens*d)
	ws.k = grow(ws.k, tokens*d)
	ws.v = grow(ws.v, tokens*d)
	ws.ctx = grow(ws.ctx, tokens*d)
	ws.hidden = grow(ws.hidden, tokens*c.HiddenDim)
	ws.cls = grow(ws.cls, len(batch)*d)
	ws.pooled = grow(ws.pooled, len(batch)*d)

	m.embed(ws, batch)
	if trace != nil {
		trace(0, ws.x)
	}
	for i := range m.layers {
		// Only the [CLS] rows of the last layer reach the classifier, so
		// that layer computes queries, attention and FFN for them alone,
		// and no token's key or value (clsAttention).
		clsOnly := i == len(m.layers)-1 && trace == nil
		m.layerForward(ws, &m.layers[i], batch, tokens, clsOnly)
		if trace != nil {
			trace(i+1, ws.x)
		}
	}
	m.classify(ws, batch, logits, trace == nil)
	return nil
}

// embed writes LayerNorm(word + position embeddings) into ws.x.
func (m *Model) embed(ws *workspace, batch []Sequence) {
	d := m.Config.Dim
	row := 0
	for _, s := range batch {
		for pos, id := range s.IDs {
			dst := ws.x[row*d : row*d+d]
			we := m.wordEmb[int(id)*d : int(id)*d+d]
			pe := m.posEmb[pos*d : pos*d+d]
			for j := range dst {
				dst[j] = we[j] + pe[j]
			}
			row++
		}
	}
	m.kernels.AddLayerNorm(ws.x, nil, d, m.embNorm.gamma, m.embNorm.beta, m.Config.LayerNormEps)
}

// layerForward is one transformer block (post-LN, as DistilBERT):
// x = LN(x + Attention(x)); x = LN(x + FFN(x)).
// With clsOnly the result holds just the [CLS] row of each sequence,
// compacted to rows 0..len(batch)-1 of ws.x.
func (m *Model) layerForward(ws *workspace, l *layer, batch []Sequence, tokens int, clsOnly bool) {
	c, k := &m.Config, m.kernels
	d := c.Dim
	rows := tokens
	if clsOnly {
		rows = len(batch)
		for i := range batch {
			copy(ws.cls[i*d:i*d+d], ws.x[ws.offsets[i]*d:ws.offsets[i]*d+d])
		}
		m.linear(ws.q, ws.cls, rows, &l.q, kernels.ActNone)
		m.clsAttention(ws, l.cls, batch)
		// The residual below needs the compacted input rows in ws.x.
		copy(ws.x, ws.cls[:rows*d])
	} else {
		m.project(ws.x, tokens, projection{ws.k, &l.k}, projection{ws.v, &l.v}, projection{ws.q, &l.q})
		m.attention(ws, batch)
	}
	m.linear(ws.tmp, ws.ctx, rows, &l.out, kernels.ActNone)
	k.AddLayerNorm(ws.tmp[:rows*d], ws.x, d, l.saNorm.gamma, l.saNorm.beta, c.LayerNormEps)
	ws.x, ws.tmp = ws.tmp, ws.x

	m.linear(ws.hidden, ws.x, rows, &l.ffn1, l.activationKind)
	m.linear(ws.tmp, ws.hidden, rows, &l.ffn2, kernels.ActNone)
	k.AddLayerNorm(ws.tmp[:rows*d], ws.x, d, l.outputNorm.gamma, l.outputNorm.beta, c.LayerNormEps)
	ws.x, ws.tmp = ws.tmp, ws.x
}

// linear runs one of the encoder's linear layers.
func (m *Model) linear(dst, x []float32, rows int, l *linear, act kernels.Activation) {
	m.kernels.Linear(dst, x, rows, l.w, l.b, act)
}

// projection is one output of project: dst = x · lᵀ + bias.
type projection struct {
	dst []float32
	l   *linear
}

// project runs several linear layers on the same input x (a block's keys,
// values and queries) in one call, which packs or quantizes x once for all.
func (m *Model) project(x []float32, rows int, outs ...projection) {
	var ps [kernels.MaxProducts]kernels.Product
	for i, o := range outs {
		ps[i] = kernels.Product{Dst: o.dst, W: o.l.w, Bias: o.l.b}
	}
	m.kernels.LinearMany(x, rows, ps[:len(outs)]...)
}

// attention computes softmax(q·kᵀ/√d_head + mask)·v per sequence and head
// into ws.ctx (see kernels.Attention).
func (m *Model) attention(ws *workspace, batch []Sequence) {
	c := &m.Config
	// The queries come scaled by 1/√d_head (their weights were, at load).
	ws.attn = ws.attn[:0]
	for si, s := range batch {
		ws.attn = append(ws.attn, kernels.AttnSeq{Q: ws.offsets[si], NQ: len(s.IDs), K: ws.offsets[si], NK: len(s.IDs), Mask: s.Mask})
	}
	m.kernels.Attention(ws.ctx, ws.q, ws.k, ws.v, c.Dim, c.NHeads, c.HeadDim(), ws.attn)
}

// clsAttention is the last layer's attention for the [CLS] query of each
// sequence (ws.q row i for sequence i, into ws.ctx row i) without
// computing any token's key or value. For head h and input rows x_t,
//
//	q_h·k_t = q_h·(Wk_h x_t + bk_h) = (Wk_hᵀ q_h)·x_t + q_h·bk_h
//
// where the last term is the same for every t, which softmax ignores, and
//
//	Σ_t p_t v_t = Wv_h (Σ_t p_t x_t) + bv_h    as Σ_t p_t = 1.
//
// So each head's query u_h = Wk_hᵀ q_h attends directly over the layer's
// input rows (dim wide and shared by every head: one multi-query attention
// per sequence), and a small product per head maps the averaged input y_h
// to the head's context. Two tokens×dim×dim projections become products of
// batch rows.
func (m *Model) clsAttention(ws *workspace, ch *clsHeads, batch []Sequence) {
	c, k := &m.Config, m.kernels
	d, hd, heads, b := c.Dim, c.HeadDim(), c.NHeads, len(batch)
	ws.headIn = grow(ws.headIn, b*d)
	ws.headOut = grow(ws.headOut, b*d)
	ws.clsQ = grow(ws.clsQ, b*heads*d)
	ws.clsY = grow(ws.clsY, b*heads*d)
	// Sequence s's queries are rows s·heads … s·heads+heads-1 of clsQ.
	for h := range heads {
		for s := range b {
			copy(ws.headIn[s*hd:s*hd+hd], ws.q[s*d+h*hd:])
		}
		k.Linear(ws.headOut, ws.headIn, b, ch.keyT[h].w, nil, kernels.ActNone)
		for s := range b {
			copy(ws.clsQ[(s*heads+h)*d:(s*heads+h+1)*d], ws.headOut[s*d:])
		}
	}
	ws.attn = ws.attn[:0]
	for si, s := range batch {
		ws.attn = append(ws.attn, kernels.AttnSeq{Q: si * heads, NQ: heads, K: ws.offsets[si], NK: len(s.IDs), Mask: s.Mask})
	}
	k.Attention(ws.clsY, ws.clsQ, ws.x, ws.x, d, 1, d, ws.attn)
	for h := range heads {
		for s := range b {
			copy(ws.headIn[s*d:s*d+d], ws.clsY[(s*heads+h)*d:])
		}
		k.Linear(ws.headOut, ws.headIn, b, ch.value[h].w, ch.value[h].b, kernels.ActNone)
		for s := range b {
			copy(ws.ctx[s*d+h*hd:s*d+h*hd+hd], ws.headOut[s*hd:])
		}
	}
}

// classify: logits = classifier(ReLU(pre_classifier(x[CLS]))). When
// compacted, the [CLS] rows are already rows 0..len(batch)-1 of ws.x.
func (m *Model) classify(ws *workspace, batch []Sequence, logits []float32, compacted bool) {
	d, k := m.Config.Dim, m.kernels
	b := len(batch)
	cls := ws.x[:b*d]
	if !compacted {
		for i := range batch {
			copy(ws.cls[i*d:i*d+d], ws.x[ws.offsets[i]*d:ws.offsets[i]*d+d])
		}
		cls = ws.cls[:b*d]
	}
	k.Linear(ws.pooled, cls, b, m.preClassifier.w, m.preClassifier.b, kernels.ActReLU)
	k.Linear(logits, ws.pooled, b, m.classifier.w, m.classifier.b, kernels.ActNone)
	if ws.trace != nil {
		ws.trace(len(m.layers)+1, ws.pooled[:b*d])
	}
}
