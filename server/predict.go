package server

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/distilbert-go/distilbert/distilbert"
	"github.com/distilbert-go/distilbert/distilbert/tokenize"
	"github.com/valyala/fasthttp"
)

// predict serves /predict and /predict/batch. /predict also takes Hugging
// Face TEI's request shape, answered in TEI's shape (see tei.go).
func (s *Server) predict(ctx *fasthttp.RequestCtx, batch bool, id string, start time.Time, info *reqInfo) {
	// After admit the body is decoded; a refused compressed one is answered
	// in the native shape, since what it holds is not read.
	aerr := s.admit(ctx, start, info)
	tei := !batch && isTEIRequest(ctx.PostBody())
	if aerr != nil {
		if tei {
			writeTEIError(ctx, id, aerr)
		} else {
			writeError(ctx, id, aerr)
		}
		return
	}
	if tei {
		s.predictTEI(ctx, id, start, info)
		return
	}
	texts, aerr := decodeRequest(ctx.PostBody(), batch, s.limits)
	if aerr != nil {
		writeError(ctx, id, aerr)
		return
	}
	results, aerr := s.classify(ctx, texts, classifyOptions{itemName: nativeItemName(batch)}, id, start, info)
	if aerr != nil {
		writeClassifyError(ctx, id, aerr, writeError)
		return
	}
	m := info.model
	b := make([]byte, 0, 64+len(results)*(96+len(m.nameJSON)+24*len(m.labels)))
	if batch {
		b = append(b, `{"predictions":[`...)
	}
	for i := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = m.appendResult(b, &results[i])
	}
	if batch {
		b = append(b, "]}"...)
	}
	writeJSON(ctx, 200, b)
}

// admit authenticates and rate-limits a request that needs the model,
// then decodes its body if the client compressed it.
func (s *Server) admit(ctx *fasthttp.RequestCtx, start time.Time, info *reqInfo) *apiError {
	client, aerr := s.clientKey(ctx)
	if aerr != nil {
		return aerr
	}
	info.client = client
	if s.lim != nil {
		if ok, wait := s.lim.allow(client, start); !ok {
			ctx.Response.Header.Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			return errorf(429, "rate_limited", "rate limit of %g requests/s exceeded; retry in %v", s.cfg.RateLimit, wait.Round(time.Millisecond))
		}
	}
	// Decompressed only now, so that a refused client costs no inflating.
	if compressedRequest(&ctx.Request.Header) {
		info.wireBytes = len(ctx.Request.Body())
	}
	if aerr := decodeBody(&ctx.Request, s.cfg.MaxBodyBytes); aerr != nil {
		if aerr.Status == fasthttp.StatusUnsupportedMediaType {
			ctx.Response.Header.Set(fasthttp.HeaderAcceptEncoding, acceptedEncodings)
		}
		return aerr
	}
	return nil
}

// requestModel is the model the request answers with, taken once.
func (s *Server) requestModel(info *reqInfo) *model {
	if info.model == nil {
		info.model = s.model()
	}
	return info.model
}

// classifyOptions change how classify treats its texts.
type classifyOptions struct {
	// refuseTruncated answers 422 input_too_long, before any inference,
	// when a text has more tokens than the model takes (TEI's truncate=false).
	refuseTruncated bool
	// itemName names text i of n in errors (nil: "the text", "text i").
	itemName func(i int) string
}

// name is how errors name text i of n.
func (o classifyOptions) name(i, n int) string {
	switch {
	case o.itemName != nil:
		return o.itemName(i)
	case n > 1:
		return fmt.Sprintf("text %d", i)
	}
	return "the text"
}

// nativeItemName names texts as /predict and /predict/batch take them.
func nativeItemName(batch bool) func(int) string {
	if !batch {
		return func(int) string { return `"text"` }
	}
	return func(i int) string { return fmt.Sprintf(`"texts"[%d]`, i) }
}

// errClientGoneStatus marks the classify error of a client that closed its
// connection: nobody reads the answer.
const errClientGoneStatus = 499

// classify answers texts from the caches or through the queue and the
// engine, in order, and counts them by label. Every protocol's handler
// calls it after admit, so batching, limits, timeouts and metrics are the
// same for all. Texts take their places in the queue before they are
// tokenized, so that a refusal costs no work. Its errors carry
// Retry-After where one applies.
func (s *Server) classify(ctx *fasthttp.RequestCtx, texts []string, opts classifyOptions, id string, start time.Time, info *reqInfo) ([]result, *apiError) {
	info.texts = texts
	s.m.texts.Add(len(texts))
	m := s.requestModel(info)

	results := make([]result, len(texts))
	var missing []int
	for i, t := range texts {
		if s.cache != nil {
			if r, ok := s.cache.get(m.cacheKey + t); ok {
				results[i] = r
				s.m.cacheHits.Inc()
				info.cached++
				continue
			}
			s.m.cacheMisses.Inc()
		}
		missing = append(missing, i)
	}
	if s.redis != nil && len(missing) > 0 {
		missing = s.fromRedis(m, texts, missing, results, info)
	}
	if opts.refuseTruncated && info.cached > 0 {
		computed := make([]bool, len(texts))
		for _, i := range missing {
			computed[i] = true
		}
		for i := range results {
			if !computed[i] && results[i].truncated {
				return nil, tooManyTokens(m, i, len(texts))
			}
		}
	}
	if s.cache != nil || s.redis != nil {
		switch info.cached {
		case len(texts):
			ctx.Response.Header.Set("X-Cache", "HIT")
		case 0:
			ctx.Response.Header.Set("X-Cache", "MISS")
		default:
			ctx.Response.Header.Set("X-Cache", "PARTIAL")
		}
	}
	if len(missing) > 0 {
		if err := s.b.reserve(len(missing)); err != nil {
			return nil, s.refusal(ctx, err)
		}
		encs := make([]tokenize.Encoding, len(missing))
		func() {
			defer func() {
				if r := recover(); r != nil {
					s.b.unreserve(len(missing))
					panic(r)
				}
			}()
			for k, i := range missing {
				encs[k] = m.clf.Encode(texts[i])
			}
		}()
		for k, i := range missing {
			switch {
			case opts.refuseTruncated && encs[k].Truncated:
				s.b.unreserve(len(missing))
				return nil, tooManyTokens(m, i, len(texts))
			case len(encs[k].IDs) <= 2:
				// A text that normalizes to nothing ("\u0000", a lone
				// surrogate, control characters) is as empty as "".
				s.b.unreserve(len(missing))
				return nil, errorf(422, "empty_text", "%s has no content once normalized", opts.name(i, len(texts)))
			}
		}
		j := newJob(m, encs, start.Add(s.cfg.RequestTimeout), ctx.Conn())
		if err := s.b.submitReserved(j); err != nil {
			return nil, s.refusal(ctx, err)
		}
		timer := time.NewTimer(time.Until(j.deadline))
		select {
		case <-j.done:
			timer.Stop()
		case <-timer.C:
			j.cancelled.Store(true)
			s.m.timeouts.Inc()
			return nil, errorf(504, "timeout", "no result within the request timeout of %v", s.cfg.RequestTimeout)
		}
		switch {
		case errors.Is(j.err, errClientGone):
			return nil, errorf(errClientGoneStatus, "client_gone", "the client closed the connection")
		case errors.Is(j.err, errStopped):
			ctx.Response.Header.Set("Retry-After", "1")
			return nil, errorf(503, "shutting_down", "the service is shutting down")
		case j.err != nil:
			s.log.Error("inference failed", "id", id, "error", j.err.Error())
			return nil, errorf(500, "inference_failed", "inference failed")
		}
		for k, p := range j.preds {
			r := m.toResult(&p)
			results[missing[k]] = r
			if s.cache != nil {
				s.cache.add(m.cacheKey+texts[missing[k]], r)
			}
		}
		if s.redis != nil {
			computed := make([]string, len(missing))
			fresh := make([]result, len(missing))
			for k, i := range missing {
				computed[k], fresh[k] = texts[i], results[i]
			}
			s.redis.setMany(m.redisPrefix, computed, fresh)
		}
	}
	for i := range results {
		m.predictions[results[i].label].Inc()
	}
	return results, nil
}

func tooManyTokens(m *model, i, n int) *apiError {
	name := "the text"
	if n > 1 {
		name = fmt.Sprintf("text %d", i)
	}
	return errorf(422, "input_too_long", "%s has more than the model's %d tokens and truncation is off", name, m.clf.Tokenizer().MaxLen())
}

// writeClassifyError answers a classify error with the protocol's writer,
// except for a client that went away: nobody reads that answer.
func writeClassifyError(ctx *fasthttp.RequestCtx, id string, e *apiError, write func(*fasthttp.RequestCtx, string, *apiError)) {
	if e.Status == errClientGoneStatus {
		ctx.SetStatusCode(errClientGoneStatus) // nginx's "client closed request"
		ctx.SetConnectionClose()
		return
	}
	write(ctx, id, e)
}

// fromRedis fills results from the shared cache (and the LRU from it) and
// returns the indices still missing.
func (s *Server) fromRedis(m *model, texts []string, missing []int, results []result, info *reqInfo) []int {
	look := make([]string, len(missing))
	for k, i := range missing {
		look[k] = texts[i]
	}
	got, found := s.redis.getMany(m.redisPrefix, len(m.labels), look)
	still := missing[:0]
	for k, i := range missing {
		if !found[k] {
			still = append(still, i)
			continue
		}
		results[i] = got[k]
		info.cached++
		if s.cache != nil {
			s.cache.add(m.cacheKey+texts[i], got[k])
		}
	}
	return still
}

// refusal is the answer to a request the queue did not take.
func (s *Server) refusal(ctx *fasthttp.RequestCtx, err error) *apiError {
	ctx.Response.Header.Set("Retry-After", "1")
	if errors.Is(err, errQueueFull) {
		s.m.queueFull.Inc()
		return errorf(503, "queue_full", "the service is at capacity; retry later")
	}
	return errorf(503, "shutting_down", "the service is shutting down")
}

func (m *model) toResult(p *distilbert.Prediction) result {
	r := result{probs: make([]float32, len(m.labels)), logits: p.Logits, tokens: p.Tokens, truncated: p.Truncated}
	for i, l := range m.labels {
		r.probs[i] = p.Scores[l]
		if l == p.Label {
			r.label = i
		}
	}
	return r
}

func (m *model) appendResult(b []byte, r *result) []byte {
	b = append(b, `{"label":`...)
	b = append(b, m.labelJSON[r.label]...)
	b = append(b, `,"score":`...)
	b = appendFloat(b, r.probs[r.label])
	b = append(b, `,"scores":{`...)
	for i, p := range r.probs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m.labelJSON[i]...)
		b = append(b, ':')
		b = appendFloat(b, p)
	}
	b = append(b, `},"tokens":`...)
	b = strconv.AppendInt(b, int64(r.tokens), 10)
	b = append(b, `,"truncated":`...)
	b = strconv.AppendBool(b, r.truncated)
	b = append(b, `,"model":`...)
	b = append(b, m.nameJSON...)
	b = append(b, m.problemJSON...)
	return append(b, '}')
}
