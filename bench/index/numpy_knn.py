#!/usr/bin/env python3
"""numpy brute-force KNN on random unit vectors, the baseline the C++ index is
compared with: scores = M @ q; np.argpartition for the top k.

    python3 bench/index/numpy_knn.py [--sizes 1000,10000,100000,1000000]
                                     [--queries 100] [--k 10]

numpy's BLAS thread count follows OPENBLAS_NUM_THREADS / OMP_NUM_THREADS
(run.sh sets 2). Prints Markdown rows matching index_bench's table.
"""
import argparse
import time

import numpy as np


def unit(rng, n, dim):
    m = rng.standard_normal((n, dim), dtype=np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000,1000000")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--dim", type=int, default=384)
    a = ap.parse_args()
    rng = np.random.default_rng(1)
    qs = unit(rng, a.queries, a.dim)
    for n in (int(s) for s in a.sizes.split(",")):
        m = unit(rng, n, a.dim)
        k = min(a.k, n)

        def knn(q):
            s = m @ q
            top = np.argpartition(-s, k - 1)[:k]
            return top[np.argsort(-s[top], kind="stable")]

        knn(qs[0])
        t = []
        for q in qs:
            t0 = time.perf_counter()
            knn(q)
            t.append((time.perf_counter() - t0) * 1e3)
        t = np.array(t)
        print(f"| {n} | numpy M @ q + argpartition | {np.percentile(t, 50):.3f} | "
              f"{np.percentile(t, 95):.3f} | {t.mean():.3f} | numpy {np.__version__} |", flush=True)


if __name__ == "__main__":
    main()
