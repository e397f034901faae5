#!/usr/bin/env python3
"""Fits the rational erf that the SIMD GELU kernels evaluate, and checks it.

    /usr/bin/python3 tools/erffit/erffit.py

erf(u) ~ u*P(u^2)/Q(u^2) on [0, C], P of degree 6, Q of degree 4 with
Q(0) = 1, by Lawson-reweighted linear least squares toward the smallest
maximum absolute error. The script prints that error, then the error of
GELU as kernels/math_amd64.s evaluates it in float32 (fused multiply-adds
emulated in float64), and the coefficients as the hex words of the
geluc<> table. Needs numpy (Debian's python3-numpy).
"""
import struct
from math import erf, sqrt

import numpy as np

C = 3.92  # erf(C) rounds to 1 in float32
DP, DQ = 6, 4


def fit():
    u = np.sort(np.cos(np.linspace(0, np.pi, 4000)) * C / 2 + C / 2)[1:]
    f = np.array([erf(x) / x for x in u])
    s = u * u
    q_prev = np.ones_like(s)
    w = np.ones_like(s)
    cols = [s**k for k in range(DP + 1)]
    for _ in range(30):
        a = np.hstack([np.vstack(cols).T, -(f[:, None] * np.vstack([s**k for k in range(1, DQ + 1)]).T)])
        wt = (u / q_prev) * w
        coef, *_ = np.linalg.lstsq(a * wt[:, None], f * wt, rcond=None)
        p, q = coef[: DP + 1], np.concatenate([[1.0], coef[DP + 1 :]])
        q_prev = np.polyval(q[::-1], s)
        err = u * (np.polyval(p[::-1], s) / q_prev - f)
        w = w * np.abs(err) ** 0.5 + 1e-300
        w /= w.max()
    return p, q, np.abs(err).max()


def gelu_f32(x, p, q):
    """geluAVX2's operations, in its order, on float32 values."""
    f32 = np.float32

    def fma(a, b, c):
        return (a.astype(np.float64) * b.astype(np.float64) + c.astype(np.float64)).astype(f32)

    xc = np.maximum(x, f32(-C * sqrt(2)))
    u = np.minimum((xc * f32(1 / sqrt(2))).astype(f32), f32(C))
    s = u * u
    pp = np.full_like(s, p[DP])
    for k in range(DP - 1, -1, -1):
        pp = fma(s, pp, np.full_like(s, p[k]))
    qq = np.full_like(s, q[DQ])
    for k in range(DQ - 1, -1, -1):
        qq = fma(s, qq, np.full_like(s, q[k]))
    return xc * (fma(u, pp, qq) / (qq + qq))


def main():
    p, q, err = fit()
    print(f"erf fit on [0, {C}]: max |error| {err:.3g} (exact arithmetic)")
    p32, q32 = p.astype(np.float32), q.astype(np.float32)
    x = np.concatenate([np.linspace(-60, 60, 2000001), np.random.default_rng(1).normal(0, 10, 1000000)]).astype(np.float32)
    y = gelu_f32(x, p32, q32).astype(np.float64)
    ref = np.array([0.5 * v * (1 + erf(v / sqrt(2))) for v in x.astype(np.float64)])
    rel = np.abs(y - ref) / np.maximum(1, np.abs(x))
    print(f"GELU in float32: max |error| / max(1, |x|) = {rel.max():.3g}")
    hexw = lambda v: "0x%08x" % struct.unpack("<I", struct.pack("<f", float(v)))[0]
    for k in range(DP, -1, -1):
        print(f"p{k} {hexw(p32[k])} {float(p32[k]):.9g}")
    for k in range(DQ, -1, -1):
        print(f"q{k} {hexw(q32[k])} {float(q32[k]):.9g}")


if __name__ == "__main__":
    main()
