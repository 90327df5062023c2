"""Cold `rekall search`: a new process per query (start, model load, query
embedding, sqlite-vec KNN, fetch) on 10,000 entries, for two binaries run
interleaved in the same run, e.g. the checkout's and an installed wheel's:

    python3 bench/install/cold_search.py build/rekall /path/to/venv/bin/rekall [--reps 40]

The base is made with the first binary: entries through `import --no-embed`,
random unit summary vectors written straight into the embeddings table (as
bench/engine does); each binary then gets its own copy, whose vec0 table it
builds (`index status`): two binaries of different vec0 layouts would
otherwise rebuild the table at every turn. `--db FILE` takes a copy of an
existing store instead (e.g. the soak's 10,000 real entries), and `--mode`
the search mode (default: the CLI's, hybrid). Besides the wall time, the
process's CPU time (user + system, from wait4) is reported.
"""

import argparse
import json
import os
import random
import shutil
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


def run_timed(cmd: list, env: dict, cwd: str) -> tuple:
    """Wall and CPU (user + system) milliseconds of one process."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=env, cwd=cwd)
    _, status, ru = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise subprocess.CalledProcessError(p.returncode, cmd)
    return wall, (ru.ru_utime + ru.ru_stime) * 1000


def pct(t: list, q: int) -> float:
    return sorted(t)[len(t) * q // 10]


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
    ap.add_argument("--db", help="copy this store instead of generating one")
    ap.add_argument("--mode", choices=["hybrid", "semantic", "keyword"])
    a = ap.parse_args()
    a.first, a.second = os.path.abspath(a.first), os.path.abspath(a.second)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REKALL_", "XDG_"))}
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "knowledge.db")
        if a.db:
            shutil.copyfile(a.db, db)
        else:
            make_base(a.first, db, a.entries)
        dbs = {a.first: os.path.join(tmp, "first.db"), a.second: os.path.join(tmp, "second.db")}
        for b, copy in dbs.items():
            index_copy(b, db, copy)
        times = {a.first: [], a.second: []}
        cpu = {a.first: [], a.second: []}
        mode = ["--mode", a.mode] if a.mode else []
        for i in range(a.reps):
            order = [a.first, a.second] if i % 2 == 0 else [a.second, a.first]
            for b in order:
                cmd = [b, "--db", dbs[b], "--quiet", "search", "--backend", "sqlite-vec", *mode, QUERIES[i % 3]]
                wall, used = run_timed(cmd, env, tmp)
                times[b].append(wall)
                cpu[b].append(used)
    for b, t in times.items():
        print(f"{b}: p50 {statistics.median(t):.1f} ms, p10 {pct(t, 1):.1f}, p90 {pct(t, 9):.1f}; "
              f"CPU p50 {statistics.median(cpu[b]):.1f} ms, p10 {pct(cpu[b], 1):.1f}, p90 {pct(cpu[b], 9):.1f}")
    print(f"second / first p50: {statistics.median(times[a.second]) / statistics.median(times[a.first]):.2f} wall, "
          f"{statistics.median(cpu[a.second]) / statistics.median(cpu[a.first]):.2f} CPU")
    print("load average:", " ".join(open("/proc/loadavg").read().split()[:3]))


if __name__ == "__main__":
    main()
