"""Recall@k of `rekall search --mode semantic` through sqlite-vec against the
brute backend (exact) on the same store, with the soak benchmark's query
generator: the check behind vec_candidates_per_k (bench/index/RESULTS.md).

    python3 bench/index/cli_recall.py build/rekall /work/s18/soak-cache/kb-10000-v1.db [--queries 100] [--k 10]

It works on a copy of the store (each backend's first open may write its
bookkeeping). Prints the recall and the queries that lost a hit.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "soak"))
import soak  # noqa: E402  (make_query: the soak's query texts)


def ids(rekall: str, db: str, backend: str, query: str, k: int) -> list[str]:
    out = subprocess.run([rekall, "--db", db, "--quiet", "--json", "search", "--mode", "semantic", "--backend",
                          backend, "--limit", str(k), query], check=True, capture_output=True, text=True).stdout
    return [r["id"] for r in json.loads(out)["results"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("rekall")
    ap.add_argument("store")
    ap.add_argument("--queries", type=int, default=100)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    rekall = os.path.abspath(a.rekall)
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "knowledge.db")
        shutil.copy(a.store, db)
        found = wanted = 0
        for _ in range(a.queries):
            q = soak.make_query(rng)
            exact = ids(rekall, db, "brute", q, a.k)
            got = set(ids(rekall, db, "sqlite-vec", q, a.k))
            hit = sum(1 for i in exact if i in got)
            found += hit
            wanted += len(exact)
            if hit < len(exact):
                print(f"  {hit}/{len(exact)}: {q}")
    print(f"recall@{a.k} {found / max(1, wanted):.4f} ({found}/{wanted}, {a.queries} queries)")


if __name__ == "__main__":
    main()
