#!/usr/bin/env python3
"""The worst keyword query a user can send, timed (issue 10, item 6).

Imports N synthetic entries without embeddings into a fresh database, then
times `rekall search --mode keyword` for the two worst shapes the store
accepts: 64 distinct frequent terms repeated up to the 4 KiB limit, and one
frequent term repeated up to it (20,000 repeats took 25 s before the query
was bounded). Prints the median of --reps runs of each.

    python3 bench/stress/slow_query.py build/rekall [--entries 10000] [--reps 5]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    rnd = random.Random(1)
    words = [f"w{i}" for i in range(300)] + ["timeout", "proxy", "nginx", "cache", "query"]
    with tempfile.TemporaryDirectory() as d:
        db, src = os.path.join(d, "k.db"), os.path.join(d, "e.jsonl")
        with open(src, "w") as f:
            for _ in range(a.entries):
                f.write(json.dumps({"title": " ".join(rnd.choices(words, k=6)), "type": "bug",
                                    "content": " ".join(rnd.choices(words, k=80))}) + "\n")
        subprocess.run([a.binary, "--db", db, "--quiet", "import", "--no-embed", src], check=True,
                       stdout=subprocess.DEVNULL)
        distinct = " ".join(words[:64])
        queries = {"64 distinct terms, 4000 bytes": ((distinct + " ") * 100)[:4000].strip(),
                   "one term repeated, 4000 bytes": ("timeout " * 600)[:4000].strip()}
        for name, q in queries.items():
            times = []
            for _ in range(a.reps):
                t = time.perf_counter()
                subprocess.run([a.binary, "--db", db, "search", "--mode", "keyword", "--limit", "10", q],
                               check=True, stdout=subprocess.DEVNULL)
                times.append(time.perf_counter() - t)
            print(f"{name}: median {statistics.median(times):.3f} s over {a.reps} runs "
                  f"({a.entries} entries, load {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
