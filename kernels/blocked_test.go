//go:build (amd64 || arm64) && !purego

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMicroKernelSumSources runs each SIMD driver's micro-kernel alone
// for every valid row count and k parity, with each source of the sum (none,
// C itself, a tile with its own stride as the whole-panel order's partial
// sums are, one row for all rows as the bias is), against float64 sums; C
// is wider than the panel, so that writes outside it show.
func TestMicroKernelSumSources(t *testing.T) {
	forEachImpl(t, func(t *testing.T, im *Impl) {
		g, ok := blockedDrivers[im.Name()]
		if !ok {
			t.Skip("not a blocked driver")
		}
		name := im.Name()
		r := rand.New(rand.NewPCG(7, 8))
		ldc, ldin := g.panel+5, g.panel+3
		for valid := 1; valid <= g.rows; valid++ {
			for _, k := range []int{0, 1, 2, 7, 64, 131} {
				for _, src := range []string{"none", "c", "other", "row"} {
					a := randSlice(r, k*g.rows+1)
					for p := 0; p < k; p++ {
						clear(a[p*g.rows+valid : (p+1)*g.rows]) // packed A's padding rows
					}
					b := randSlice(r, k*g.panel+1)
					c, other := randSlice(r, g.rows*ldc), randSlice(r, g.rows*ldin)
					orig := append([]float32(nil), c...)
					switch src {
					case "none":
						g.kernel(valid, k, &a[0], &b[0], &c[0], ldc, nil, 0, nil, 0)
					case "c":
						g.kernel(valid, k, &a[0], &b[0], &c[0], ldc, &c[0], ldc, nil, 0)
					case "other":
						g.kernel(valid, k, &a[0], &b[0], &c[0], ldc, &other[0], ldin, &b[0], 64)
					default:
						g.kernel(valid, k, &a[0], &b[0], &c[0], ldc, &other[0], 0, nil, 0)
					}
					for i := 0; i < valid; i++ {
						for j := 0; j < ldc; j++ {
							got := c[i*ldc+j]
							if j >= g.panel {
								if got != orig[i*ldc+j] {
									t.Fatalf("%s rows %d k %d cin %s: wrote outside the panel at (%d,%d)", name, valid, k, src, i, j)
								}
								continue
							}
							var want float64
							switch src {
							case "c":
								want = float64(orig[i*ldc+j])
							case "other":
								want = float64(other[i*ldin+j])
							case "row":
								want = float64(other[j])
							}
							for p := 0; p < k; p++ {
								want += float64(a[p*g.rows+i]) * float64(b[p*g.panel+j])
							}
							if d := math.Abs(float64(got) - want); d > 1e-5*math.Sqrt(float64(k+1))*4 {
								t.Fatalf("%s rows %d k %d cin %s: (%d,%d) = %g, want %g", name, valid, k, src, i, j, got, want)
							}
						}
					}
				}
			}
		}
	})
}
