#!/usr/bin/env python3
"""What each way of answering a search costs while a server's brute matrix
loads (issue 14 #3), on the store bench/engine/first_search.py builds, each
from a fresh connection (SQLite's page cache cold, the OS's warm):

  - the raw read a direct exact scan needs: every summary vector of the
    embeddings table through SQLite, nothing computed (what the load reads too);
  - the vec0 table's KNN over its 3-bit codes for k' candidates (the
    sqlite-vec backend rescores its best 1024), then the k' vectors read
    back from `embeddings` for rescoring.

    /usr/bin/python3 bench/engine/fallback_paths.py build/first-search-cache/kb-100000.db \\
        --vec0 deps/sqlite-vec/vec0.so

Needs a Python whose sqlite3 module can load extensions (Debian's
/usr/bin/python3 can; pyenv builds often cannot). The store must hold the
vec0 table (`rekall --db <store> index status` builds it).
"""

import argparse
import random
import sqlite3
import statistics
import time


def ms(t0: float) -> float:
    return (time.monotonic() - t0) * 1000


def scan(db: str) -> float:
    con = sqlite3.connect(db)
    t0 = time.monotonic()
    con.execute("SELECT sum(length(vector)) FROM embeddings WHERE embedding_type = 'summary'").fetchone()
    t = ms(t0)
    con.close()
    return t


def knn(db: str, ext: str, k: int, rnd: random.Random) -> tuple[float, float]:
    con = sqlite3.connect(db)
    con.enable_load_extension(True)
    con.load_extension(ext)
    code = bytes(rnd.getrandbits(8) for _ in range(144))
    t0 = time.monotonic()
    ids = [r[0] for r in con.execute("SELECT entry_id FROM embeddings_vec WHERE embedding MATCH vec_bit(?) AND k = ?",
                                     (code, k))]
    t_knn = ms(t0)
    t0 = time.monotonic()
    for i in ids:
        con.execute("SELECT vector FROM embeddings WHERE entry_id = ? AND embedding_type = 'summary'", (i,)).fetchone()
    t_rescore = ms(t0)
    con.close()
    return t_knn, t_rescore


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--vec0", required=True, help="path of vec0.so")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    rnd = random.Random(7)
    scans = [scan(a.db) for _ in range(a.runs)]
    print(f"read every summary vector through SQLite: median {statistics.median(scans):.0f} ms "
          f"(all: {[round(x) for x in scans]})")
    for k in (96, 1024):
        runs = [knn(a.db, a.vec0, k, rnd) for _ in range(a.runs)]
        print(f"vec0 KNN, k' = {k}: median {statistics.median(r[0] for r in runs):.0f} ms, then reading the "
              f"{k} vectors {statistics.median(r[1] for r in runs):.0f} ms (all: {[round(r[0]) for r in runs]})")


if __name__ == "__main__":
    main()
