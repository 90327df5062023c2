"""`rekall doctor` and `rekall doctor --quick` on a generated store (issue 14
#5): builds it with make_store.py (unless --db names one already built),
then times each command --reps times, a new process each, and prints the
median wall time with the load average. Every run must find the store
healthy (exit 0) with the full list of checks; there is no timing
assertion (the ctest smoke runs a small count).

    python3 bench/storage/doctor_bench.py --bin build/rekall --entries 10000
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_store  # noqa: E402

FULL = ["integrity", "orphan_embeddings", "orphan_tags", "fts_drift", "model_mismatch", "non_finite_vectors",
        "missing_embeddings", "index_drift", "model", "sqlite_vec"]
QUICK = ["integrity", "fts_drift", "index_drift"]


def children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_doctor(rekall: str, db: str, extra: list, expected: list) -> tuple:
    t0, c0 = time.perf_counter(), children_cpu()
    p = subprocess.run([rekall, "--db", db, "--json", "doctor"] + extra, capture_output=True, text=True)
    wall, cpu = time.perf_counter() - t0, children_cpu() - c0
    if p.returncode != 0:
        sys.exit(f"doctor {extra} exited {p.returncode}: {p.stdout}{p.stderr}")
    found = json.loads(p.stdout)
    checks = [f["check"] for f in found["findings"]]
    if checks != expected or not found["healthy"]:
        sys.exit(f"doctor {extra}: unexpected findings {p.stdout}")
    return wall, cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--db", help="a store already built by make_store.py (else one is built in a temp folder)")
    a = ap.parse_args()
    rekall = os.path.abspath(a.bin)
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.abspath(a.db) if a.db else os.path.join(tmp, "knowledge.db")
        if not a.db:
            t0 = time.perf_counter()
            make_store.make_store(rekall, db, a.entries)
            print(f"store of {a.entries} entries built in {time.perf_counter() - t0:.1f} s "
                  f"({os.path.getsize(db) / 1e6:.1f} MB)")
        for name, extra, expected in (("doctor", [], FULL), ("doctor --quick", ["--quick"], QUICK)):
            runs = [run_doctor(rekall, db, extra, expected) for _ in range(a.reps)]
            times, cpus = [w for w, _ in runs], [c for _, c in runs]
            with open("/proc/loadavg") as f:
                load = f.read().split()[0]
            print(f"{name:16s} median {statistics.median(times):.2f} s wall, {statistics.median(cpus):.2f} s CPU "
                  f"over {a.reps} runs (wall min {min(times):.2f}, max {max(times):.2f}; load average {load})")


if __name__ == "__main__":
    main()
