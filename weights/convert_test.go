package weights

import (
	"math"
	"math/rand"
	"testing"
)

// halfValues returns the value of every finite non-negative half, indexed by
// bit pattern 0..0x7bff (monotonically increasing).
func halfValues() []float64 {
	v := make([]float64, 0x7c00)
	for h := range v {
		e, m := h>>10, float64(h&0x3ff)
		if e == 0 {
			v[h] = m * math.Ldexp(1, -24)
		} else {
			v[h] = (1 + m/1024) * math.Ldexp(1, e-15)
		}
	}
	return v
}

// refF16 rounds x to the nearest half, ties to even, by search.
func refF16(x float32, vals []float64) uint16 {
	sign := uint16(0)
	if math.Signbit(float64(x)) {
		sign = 0x8000
	}
	a := math.Abs(float64(x))
	if a >= 65520 { // 65504 + half an ulp rounds to even, which is inf
		return sign | 0x7c00
	}
	lo, hi := 0, len(vals)-1
	for lo < hi { // first index with vals[i] >= a
		mid := (lo + hi) / 2
		if vals[mid] >= a {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	h := lo
	if h > 0 {
		dl, dh := a-vals[h-1], vals[h]-a
		if dl < dh || dl == dh && (h-1)%2 == 0 {
			h--
		}
	}
	return sign | uint16(h)
}

func randF32(r *rand.Rand) float32 {
	switch r.Intn(3) {
	case 0: // any bit pattern
		return math.Float32frombits(r.Uint32())
	case 1: // around the half range, including subnormals
		return float32(r.NormFloat64() * math.Ldexp(1, r.Intn(50)-30))
	default: // exact ties: a half value plus half an ulp
		h := uint16(r.Intn(0x7c00))
		v := f16ToF32(h)
		next := f16ToF32(h + 1)
		return v + (next-v)/2
	}
}

func TestF16Conversion(t *testing.T) {
	for _, c := range []struct {
		h uint16
		f float32
	}{
		{0x0000, 0}, {0x3c00, 1}, {0xc000, -2}, {0x7bff, 65504},
		{0x0001, float32(math.Ldexp(1, -24))}, {0x03ff, float32(1023 * math.Ldexp(1, -24))},
		{0x0400, float32(math.Ldexp(1, -14))}, {0x7c00, float32(math.Inf(1))}, {0xfc00, float32(math.Inf(-1))},
	} {
		if got := f16ToF32(c.h); got != c.f {
			t.Errorf("f16ToF32(%#04x) = %g, want %g", c.h, got, c.f)
		}
		if got := f32ToF16(c.f); got != c.h {
			t.Errorf("f32ToF16(%g) = %#04x, want %#04x", c.f, got, c.h)
		}
	}
	if got := f16ToF32(0x8000); got != 0 || !math.Signbit(float64(got)) {
		t.Errorf("f16ToF32(0x8000) = %g, want -0", got)
	}
	// Every half survives a trip through float32; NaNs stay NaN.
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := f16ToF32(h)
		back := f32ToF16(f)
		if isNaN16(h) {
			if !isNaN16(back) || !math.IsNaN(float64(f)) || back&0x8000 != h&0x8000 {
				t.Fatalf("NaN %#04x -> %g -> %#04x", h, f, back)
			}
		} else if back != h {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, back)
		}
	}
	// Rounding matches a search-based reference.
	vals := halfValues()
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 200000; i++ {
		x := randF32(r)
		if math.IsNaN(float64(x)) {
			if !isNaN16(f32ToF16(x)) {
				t.Fatalf("f32ToF16(NaN %#08x) not NaN", math.Float32bits(x))
			}
			continue
		}
		want := refF16(x, vals)
		if math.IsInf(float64(x), 0) {
			want = f32ToF16(x) // checked above
		}
		if got := f32ToF16(x); got != want {
			t.Fatalf("f32ToF16(%g [%#08x]) = %#04x, want %#04x", x, math.Float32bits(x), got, want)
		}
	}
}

func isNaN16(h uint16) bool { return h&0x7c00 == 0x7c00 && h&0x3ff != 0 }

func TestBF16Conversion(t *testing.T) {
	for i := 0; i < 1<<16; i++ {
		h := uint16(i)
		f := bf16ToF32(h)
		back := f32ToBF16(f)
		nan := h&0x7f80 == 0x7f80 && h&0x7f != 0
		if nan {
			if !math.IsNaN(float64(f)) || back&0x7f80 != 0x7f80 || back&0x7f == 0 {
				t.Fatalf("NaN %#04x -> %g -> %#04x", h, f, back)
			}
		} else if back != h {
			t.Fatalf("%#04x -> %g -> %#04x", h, f, back)
		}
	}
	r := rand.New(rand.NewSource(2))
	for i := 0; i < 200000; i++ {
		b := r.Uint32()
		if i%2 == 0 {
			b = b&^0xffff | 0x8000 // exact tie
		}
		x := math.Float32frombits(b)
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			continue
		}
		// x lies between the truncation lo and the next bfloat16 away from zero.
		lo := uint16(b >> 16)
		hiV := float64(bf16ToF32(lo + 1))
		if lo&0x7fff == 0x7f7f { // next is inf: compare with 2^128 instead
			hiV = math.Copysign(math.Ldexp(1, 128), float64(x))
		}
		dl := math.Abs(float64(x) - float64(bf16ToF32(lo)))
		dh := math.Abs(hiV - float64(x))
		want := lo
		if dh < dl || dh == dl && lo&1 == 1 {
			want = lo + 1
		}
		if got := f32ToBF16(x); got != want {
			t.Fatalf("f32ToBF16(%g [%#08x]) = %#04x, want %#04x", x, b, got, want)
		}
	}
	if got := f32ToBF16(float32(math.Inf(-1))); got != 0xff80 {
		t.Errorf("f32ToBF16(-inf) = %#04x", got)
	}
}
