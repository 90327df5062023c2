#!/usr/bin/env python3
"""Approximate nearest-neighbour indexes on the same .f32 files as
index_bench, for comparison with the exact brute index (bench only: rekall
never depends on them). hnswlib HNSW and faiss IVF-Flat (inner product on
unit vectors = cosine): recall@10 against the exact top 10 (numpy), p50/p95
single-query latency on 1 and 2 threads, build time and the memory the
index holds (RSS growth while building; HNSW also its serialised size).

    /work/.venv-bench/bin/python bench/index/ann_bench.py \\
        --vectors base.f32 --query-vectors queries.f32 --sizes 100000,1000000 \\
        [--queries 200] [--methods hnsw,ivf]

Prints one Markdown row per (size, method, setting).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np

DIM = 384


def load(path: str, rows: int) -> np.ndarray:
    x = np.fromfile(path, dtype=np.float32, count=rows * DIM)
    return x[: len(x) // DIM * DIM].reshape(-1, DIM)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def exact_top(base: np.ndarray, q: np.ndarray, k: int) -> np.ndarray:
    best_s = np.full((len(q), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), k), dtype=np.int64)
    for b in range(0, len(base), 100_000):
        s = q @ base[b : b + 100_000].T
        s = np.concatenate([best_s, s], axis=1)
        i = np.concatenate([best_i, np.arange(b, b + s.shape[1] - k)[None, :].repeat(len(q), 0)], axis=1)
        top = np.argpartition(-s, k, axis=1)[:, :k]
        best_s = np.take_along_axis(s, top, 1)
        best_i = np.take_along_axis(i, top, 1)
    return best_i


def recall(got: list[np.ndarray], want: np.ndarray) -> float:
    return float(np.mean([len(set(g.tolist()) & set(w.tolist())) / len(w) for g, w in zip(got, want)]))


def time_queries(search, q: np.ndarray) -> tuple[float, float, list[np.ndarray]]:
    search(q[:1])
    lat, out = [], []
    for i in range(len(q)):
        t = time.perf_counter()
        out.append(search(q[i : i + 1]))
        lat.append((time.perf_counter() - t) * 1e3)
    return float(np.percentile(lat, 50)), float(np.percentile(lat, 95)), out


def row(n, method, p50, p95, note):
    print(f"| {n} | {method} | {p50:.3f} | {p95:.3f} | {note} |", flush=True)


def bench_hnsw(base, q, want, k, n):
    import hnswlib

    for m, efc in ((16, 200),):
        r0 = rss_mb()
        t = time.perf_counter()
        idx = hnswlib.Index(space="ip", dim=DIM)
        idx.init_index(max_elements=n, M=m, ef_construction=efc, random_seed=1)
        idx.set_num_threads(2)
        idx.add_items(base, np.arange(n))
        build = time.perf_counter() - t
        held = rss_mb() - r0
        with tempfile.NamedTemporaryFile() as f:
            idx.save_index(f.name)
            size = os.path.getsize(f.name) / 1e6
        idx.set_num_threads(1)  # one query runs on one thread whatever the setting
        for ef in (32, 64, 128, 256):
            idx.set_ef(max(ef, k))
            p50, p95, got = time_queries(lambda x: idx.knn_query(x, k=k)[0][0], q)
            row(n, f"hnswlib HNSW M={m} efC={efc} ef={ef} (1 thread)", p50, p95,
                f"recall@{k} = {recall(got, want):.4f}; build {build:.0f} s on 2 threads; "
                f"{held:.0f} MB RSS growth, {size:.0f} MB saved")


def bench_ivf(base, q, want, k, n):
    import faiss

    nlist = int(4 * np.sqrt(n))
    r0 = rss_mb()
    t = time.perf_counter()
    faiss.omp_set_num_threads(2)
    quant = faiss.IndexFlatIP(DIM)
    idx = faiss.IndexIVFFlat(quant, DIM, nlist, faiss.METRIC_INNER_PRODUCT)
    idx.train(base[np.random.default_rng(1).choice(n, min(n, 50 * nlist), replace=False)])
    idx.add(base)
    build = time.perf_counter() - t
    held = rss_mb() - r0
    for threads in (1, 2):
        faiss.omp_set_num_threads(threads)
        for nprobe in (8, 16, 32, 64):
            idx.nprobe = nprobe
            p50, p95, got = time_queries(lambda x: idx.search(x, k)[1][0], q)
            row(n, f"faiss IVF-Flat nlist={nlist} nprobe={nprobe} ({threads} thread{'s' if threads > 1 else ''})",
                p50, p95, f"recall@{k} = {recall(got, want):.4f}; build {build:.0f} s on 2 threads; {held:.0f} MB RSS growth")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--vectors", required=True)
    ap.add_argument("--query-vectors", required=True)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--methods", default="hnsw,ivf")
    a = ap.parse_args()
    sizes = [int(s) for s in a.sizes.split(",")]
    everything = load(a.vectors, max(sizes))
    q = load(a.query_vectors, a.queries)
    print(f"base {a.vectors} ({len(everything)} rows), {len(q)} queries, k = {a.k}\n")
    print("| N | method | p50 ms | p95 ms | note |\n|---|---|---|---|---|")
    for n in sizes:
        n = min(n, len(everything))
        base = np.ascontiguousarray(everything[:n])
        want = exact_top(base, q, a.k)
        if "hnsw" in a.methods:
            bench_hnsw(base, q, want, a.k, n)
        if "ivf" in a.methods:
            bench_ivf(base, q, want, a.k, n)


if __name__ == "__main__":
    main()
