"""Cold `rekall search`: a new process per query (start, model load, query
embedding, sqlite-vec KNN, fetch) on 10,000 entries, for two binaries run
interleaved in the same run, e.g. the checkout's and an installed wheel's:

    python3 bench/install/cold_search.py build/rekall /path/to/venv/bin/rekall [--reps 40]

The base is made with the first binary: entries through `import --no-embed`,
random unit summary vectors written straight into the embeddings table (as
bench/engine does); each binary then gets its own copy, whose vec0 table it
builds (`index status`): two binaries of different vec0 layouts would
otherwise rebuild the table at every turn.
"""

import argparse
import json
import os
import random
import sqlite3
import statistics
import struct
import subprocess
import tempfile
import time

WORDS = "nginx proxy timeout postgres pool react effect cache index query model vector search thread lock".split()
QUERIES = ["request times out behind the reverse proxy", "connection pool exhausted", "effect cleanup leak"]


def make_base(rekall: str, db: str, n: int) -> None:
    rnd = random.Random(7)
    with open(db + ".jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"title": f"note {i} " + " ".join(rnd.sample(WORDS, 4)), "type": "bug",
                                "content": " ".join(rnd.choices(WORDS, k=30))}) + "\n")
    subprocess.run([rekall, "--db", db, "--quiet", "import", "--no-embed", db + ".jsonl"], check=True)
    con = sqlite3.connect(db)
    rows = []
    for (eid,) in con.execute("SELECT id FROM entries"):
        v = [rnd.gauss(0, 1) for _ in range(384)]
        norm = sum(x * x for x in v) ** 0.5
        rows.append((eid + "-s", eid, "summary", struct.pack("<384f", *[x / norm for x in v]), 384,
                     "all-MiniLM-L6-v2", "2026-01-01T00:00:00"))
    con.executemany("INSERT INTO embeddings VALUES (?,?,?,?,?,?,?)", rows)
    con.commit()
    con.close()


def index_copy(rekall: str, db: str, copy: str) -> None:
    con = sqlite3.connect(db)
    con.execute("VACUUM INTO ?", (copy,))
    con.close()
    subprocess.run([rekall, "--db", copy, "--quiet", "index", "status"], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("first")
    ap.add_argument("second")
    ap.add_argument("--reps", type=int, default=40)
    ap.add_argument("--entries", type=int, default=10000)
    a = ap.parse_args()
    a.first, a.second = os.path.abspath(a.first), os.path.abspath(a.second)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REKALL_", "XDG_"))}
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "knowledge.db")
        make_base(a.first, db, a.entries)
        dbs = {a.first: os.path.join(tmp, "first.db"), a.second: os.path.join(tmp, "second.db")}
        for b, copy in dbs.items():
            index_copy(b, db, copy)
        times = {a.first: [], a.second: []}
        for i in range(a.reps):
            order = [a.first, a.second] if i % 2 == 0 else [a.second, a.first]
            for b in order:
                t0 = time.perf_counter()
                subprocess.run([b, "--db", dbs[b], "--quiet", "search", "--backend", "sqlite-vec", QUERIES[i % 3]],
                               check=True, stdout=subprocess.DEVNULL, env=env, cwd=tmp)
                times[b].append((time.perf_counter() - t0) * 1000)
    for b, t in times.items():
        t.sort()
        print(f"{b}: p50 {statistics.median(t):.1f} ms, p10 {t[len(t) // 10]:.1f}, p90 {t[len(t) * 9 // 10]:.1f}")
    print(f"second / first p50: {statistics.median(times[a.second]) / statistics.median(times[a.first]):.2f}")
    print("load average:", " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
