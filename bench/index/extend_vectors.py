#!/usr/bin/env python3
"""Extends a file of real embeddings to a larger base for the 1M-vector
measurements: the real rows first, then rows sampled from a Gaussian fitted
to them (their mean and full 384x384 covariance), each normalised to unit
length. The synthetic rows have the real rows' common direction and
per-dimension spread, not their cluster structure: recall on them is
reported next to recall on the real rows alone (see RESULTS.md).

    extend_vectors.py --real corpus.f32 --rows 1000000 --out base1m.f32

numpy (from /work/.venv-bench).
"""

from __future__ import annotations

import argparse

import numpy as np

DIM = 384


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", required=True)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    real = np.fromfile(a.real, dtype=np.float32)
    real = real[: len(real) // DIM * DIM].reshape(-1, DIM)
    mean = real.mean(axis=0, dtype=np.float64)
    cov = np.cov(real, rowvar=False)
    rng = np.random.default_rng(a.seed)
    with open(a.out, "wb") as f:
        real.tofile(f)
        left = a.rows - len(real)
        while left > 0:
            m = min(left, 100_000)
            x = rng.multivariate_normal(mean, cov, size=m, method="cholesky").astype(np.float32)
            x /= np.linalg.norm(x, axis=1, keepdims=True)
            x.tofile(f)
            left -= m
    print(f"{len(real)} real rows + {max(0, a.rows - len(real))} sampled -> {a.out}")


if __name__ == "__main__":
    main()
