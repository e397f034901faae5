//go:build arm64 && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// Linux requires FP/ASIMD on arm64, so a missing neon there is a detection
// bug, and would silently turn every "neon" test into a no-op.
func TestNEONAvailableOnLinux(t *testing.T) {
	if runtime.GOOS == "linux" && !neon.Supported() {
		t.Fatalf("cpuid reports no ASIMD on linux/arm64 (features: %v)", CPUFeatures())
	}
	if neon.Supported() && Available()[0] == Generic() {
		t.Fatal("generic chosen over neon")
	}
}

func skipWithoutNEON(t *testing.T) {
	if !neon.Supported() {
		t.Skip("no ASIMD on this CPU")
	}
}

// blockedDrivers are the drivers of this architecture a test can run, by
// Impl name.
var blockedDrivers = map[string]*blockedGemm{"neon": neonGemm}

// Every tail of the 8-row groups and 12-column panels, with K inside one
// slice, exactly one slice, and spilling into a second and third slice
// (accumulation across K slices, through both the direct and the tile path).
func TestLinearNEONTails(t *testing.T) {
	skipWithoutNEON(t)
	r := rand.New(rand.NewPCG(23, 24))
	ms := []int{1, 2, 3, 5, 7, 8, 9, 15, 16, 17}
	outs := []int{1, 2, 4, 5, 11, 12, 13, 23, 24, 25, 37}
	for _, in := range []int{1, 3, 256, 257, 600} {
		for _, m := range ms {
			for _, out := range outs {
				x, w, b := randSlice(r, m*in), randSlice(r, out*in), randSlice(r, out)
				pw, err := neon.Pack(w, out, in)
				if err != nil {
					t.Fatal(err)
				}
				dst := make([]float32, m*out+5)
				for i := range dst {
					dst[i] = 777
				}
				neon.Linear(dst[:m*out], x, m, pw, b, ActNone)
				want := linearRef(x, w, b, m, in, out, ActNone)
				if d := maxAbsDiff(dst[:m*out], want); d > 1e-5*math.Sqrt(float64(in))*4 {
					t.Fatalf("m=%d in=%d out=%d: max diff %g", m, in, out, d)
				}
				for _, v := range dst[m*out:] {
					if v != 777 {
						t.Fatalf("m=%d in=%d out=%d: wrote past dst", m, in, out)
					}
				}
			}
		}
	}
}

// Packing from a strided or transposed source into a dirty, reused buffer
// must give the same panels as packing the compact matrix.
func TestPackPanelsNEONStridedTransposed(t *testing.T) {
	skipWithoutNEON(t)
	r := rand.New(rand.NewPCG(25, 26))
	for _, s := range []struct{ out, in int }{{1, 1}, {5, 3}, {12, 7}, {13, 64}, {64, 13}, {25, 30}} {
		w := randSlice(r, s.out*s.in)
		want := packPanelsNEON(nil, w, s.out, s.in, s.in, false)
		dirty := func() []float32 {
			d := make([]float32, len(want)+7)
			for i := range d {
				d[i] = float32(math.NaN())
			}
			return d[:0]
		}
		ld := s.in + 3
		strided := make([]float32, s.out*ld)
		for o := 0; o < s.out; o++ {
			copy(strided[o*ld:], w[o*s.in:o*s.in+s.in])
		}
		ldT := s.out + 2
		trans := make([]float32, s.in*ldT)
		for o := 0; o < s.out; o++ {
			for i := 0; i < s.in; i++ {
				trans[i*ldT+o] = w[o*s.in+i]
			}
		}
		for name, got := range map[string][]float32{
			"strided":    packPanelsNEON(dirty(), strided, s.out, s.in, ld, false),
			"transposed": packPanelsNEON(dirty(), trans, s.out, s.in, ldT, true),
		} {
			if len(got) != len(want) {
				t.Fatalf("%+v %s: %d values, want %d", s, name, len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] { // a NaN left from the dirty buffer fails too
					t.Fatalf("%+v %s: value %d is %g, want %g", s, name, i, got[i], want[i])
				}
			}
		}
	}
}

// The SDOT kernel against the portable one, bit for bit, with the inputs'
// extremes (0 and 255 meet ±63) and K up to DistilBERT's 3072.
func TestInt8DotKernel(t *testing.T) {
	if neon.Int8Kernel() != "neon-sdot" {
		t.Skip("this CPU has no SDOT: int8 layers run the portable kernel")
	}
	checkQMicro(t, qKernelNEONDot)
}
