#!/usr/bin/env python3
"""Which sample queries predict the 1-bit pre-scan's recall on real queries?

The brute index checks the recall@10 of its 1-bit pre-scan + exact rescoring
of C candidates on queries it draws from the rows it holds (it has no real
queries). This script measures, on the same base, the true recall@10 of a
file of real queries and the estimate each kind of drawn query gives:

  loo       a stored row, itself left out of both rankings
  perturb   a stored row plus Gaussian noise (cosine ~0.8 to it), left out
  midpoint  the normalised mean of two stored rows, both left out

for C in --candidates. Codes as the index makes them: sign(x - mean of the
rows); a row is among the candidates when fewer than C rows come before it
by (Hamming distance, row). A true neighbour among the candidates is in the
final top 10 (exact rescoring), so recall(C) is the share of the exact top
10 ranked below C.

    recall_check_sim.py --base corpus.f32 --rows 100000 --queries queries.f32
    recall_check_sim.py --random 100000

numpy (from /work/.venv-bench).
"""

from __future__ import annotations

import argparse

import numpy as np

DIM = 384
K = 10


def load(path: str, rows: int) -> np.ndarray:
    x = np.fromfile(path, dtype=np.float32, count=rows * DIM)
    return x[: len(x) // DIM * DIM].reshape(-1, DIM)


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def ranks(base, signs, mean, qs, excluded):
    """Per query, the Hamming rank of each exact top-10 row (excluded rows
    take part in neither ranking)."""
    out = []
    n = len(base)
    for q, ex in zip(qs, excluded):
        s = base @ q
        s[list(ex)] = -np.inf
        top = np.argpartition(-s, K)[:K]
        qb = np.where(q > mean, 1.0, -1.0).astype(np.float32)
        d = (DIM - signs @ qb) / 2  # Hamming distance
        d[list(ex)] = np.inf
        r = []
        rows = np.arange(n)
        for t in top:
            r.append(int(np.sum(d < d[t]) + np.sum((d == d[t]) & (rows < t))))
        out.append(r)
    return np.array(out)


def recall(rk: np.ndarray, c: int) -> float:
    return float(np.mean(rk < c))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--random", type=int, default=0, help="random unit vectors instead of --base")
    ap.add_argument("--queries", help="real queries (raw float32 rows)")
    ap.add_argument("--nq", type=int, default=200)
    ap.add_argument("--samples", type=int, default=64)
    ap.add_argument("--candidates", default="250,500,1000,2000,4000")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    if a.random:
        base = unit(rng.standard_normal((a.random, DIM), dtype=np.float32))
    else:
        base = unit(load(a.base, a.rows))
    n = len(base)
    mean = base.mean(axis=0)
    signs = np.where(base > mean, 1.0, -1.0).astype(np.float32)
    cs = [int(c) for c in a.candidates.split(",")]
    kinds = {}
    if a.queries:
        qs = unit(load(a.queries, a.nq))
    else:
        qs = unit(rng.standard_normal((a.nq, DIM), dtype=np.float32))
    kinds["real queries" if a.queries else "random queries"] = (qs, [()] * len(qs))
    pick = rng.choice(n, size=(a.samples, 2), replace=False)
    kinds["loo"] = (base[pick[:, 0]], [(int(i),) for i in pick[:, 0]])
    noise = unit(rng.standard_normal((a.samples, DIM), dtype=np.float32))
    kinds["perturb"] = (unit(base[pick[:, 0]] + 0.75 * noise), [(int(i),) for i in pick[:, 0]])
    kinds["midpoint"] = (unit(base[pick[:, 0]] + base[pick[:, 1]]), [tuple(int(i) for i in p) for p in pick])
    print(f"base: {'random' if a.random else a.base} ({n} rows), samples: {a.samples}")
    print("| queries | " + " | ".join(f"C = {c}" for c in cs) + " |")
    print("|---|" + "---:|" * len(cs))
    for name, (q, ex) in kinds.items():
        rk = ranks(base, signs, mean, q, ex)
        print(f"| {name} ({len(q)}) | " + " | ".join(f"{recall(rk, c):.4f}" for c in cs) + " |", flush=True)


if __name__ == "__main__":
    main()
