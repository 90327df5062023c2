#!/usr/bin/env python3
"""The first search of a fresh `rekall serve` (issue 14 #3).

    python3 bench/engine/first_search.py --bin build/rekall --entries 100000
    python3 bench/engine/first_search.py --bin build/rekall --peer /path/to/older/rekall   # side by side
    python3 bench/engine/first_search.py --db /tmp/copy-of-a-store.db --settle 20 ...   # a given store

What it does, --runs times in turn for each binary:
  1. `serve` on a store of --entries entries (bench/storage/make_store.py
     builds it once, cached as build/first-search-cache/kb-N.db), then
     `initialize` and at once a semantic `rekall_search`: the time from
     sending the search to its answer is what the agent waits for.
  2. The same on an empty store (same schema): there the first search pays
     the model's load and the query's embedding alone.
The difference (1) - (2) is what opening the vector index adds to the first
search; the target is <= 100 ms at 100K entries.

--settle S: before the timed runs, each binary serves the store once and
stays up S seconds after its first search, so that its background load
ends; a rekall that stores its 1-bit codes in the file (table
rekall_index_codes) writes them then, and its timed runs read them. The
file's size before and after is printed. --db: the store to use (it is
written to: pass a copy), instead of one built by make_store.py. Both servers use the brute
index (what `serve` picks) and wait for the model (model_load_wait_seconds =
60), so the answer is a vector search, never the keyword fallback.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "soak"))
sys.path.insert(0, str(ROOT / "bench" / "storage"))
from make_store import make_store  # noqa: E402
from soak import Server  # noqa: E402


def first_search_ms(rekall: str, db: Path, config: Path) -> float:
    srv = Server(rekall, db, config, idle_s=3600)
    try:
        srv.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                   "clientInfo": {"name": "first_search", "version": "1"}})
        t0 = time.monotonic()
        res = srv.call("rekall_search", {"query": "request times out behind the reverse proxy", "mode": "semantic"})
        ms = (time.monotonic() - t0) * 1000
        if res.get("isError"):
            raise RuntimeError(f"search failed: {res}")
        return ms
    finally:
        srv.close()


def settle(rekall: str, db: Path, config: Path, seconds: float) -> None:
    srv = Server(rekall, db, config, idle_s=3600)
    try:
        srv.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                   "clientInfo": {"name": "first_search", "version": "1"}})
        srv.call("rekall_search", {"query": "warm up", "mode": "semantic"})
        time.sleep(seconds)
    finally:
        srv.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=str(ROOT / "build" / "rekall"))
    ap.add_argument("--peer", help="another rekall binary measured in the same run, in turn")
    ap.add_argument("--entries", type=int, default=100000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--db", help="the store to search (written to: a copy), instead of make_store.py's")
    ap.add_argument("--settle", type=float, default=0, help="seconds each binary serves once before the runs")
    a = ap.parse_args()
    cache = ROOT / "build" / "first-search-cache"
    cache.mkdir(parents=True, exist_ok=True)
    big, empty = cache / f"kb-{a.entries}.db", cache / "kb-0.db"
    if a.db:
        big = Path(a.db)
    for db, n in ((big, a.entries), (empty, 0)):
        if not db.exists():
            make_store(os.path.abspath(a.bin), str(db), n)
    bins = [("this", os.path.abspath(a.bin))] + ([("peer", os.path.abspath(a.peer))] if a.peer else [])
    with tempfile.TemporaryDirectory() as work:
        config = Path(work) / "config.toml"
        config.write_text("[engine]\nmodel_load_wait_seconds = 60\n")
        if a.settle > 0:
            for name, exe in bins:
                before = big.stat().st_size
                settle(exe, big, config, a.settle)
                print(f"settled {name}: {big} {before} -> {big.stat().st_size} bytes")
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(a.runs):
            for name, exe in bins:
                for label, db in (("store", big), ("empty", empty)):
                    times.setdefault((name, label), []).append(first_search_ms(exe, db, config))
    print(f"first semantic rekall_search after initialize, median of {a.runs} (ms); load {os.getloadavg()[0]:.1f}")
    for name, _ in bins:
        full = statistics.median(times[(name, "store")])
        alone = statistics.median(times[(name, "empty")])
        print(f"  {name:5s} {a.entries} entries {full:7.0f}   empty store {alone:7.0f}   difference {full - alone:6.0f}"
              f"   (all: {[round(x) for x in times[(name, 'store')]]} / {[round(x) for x in times[(name, 'empty')]]})")


if __name__ == "__main__":
    main()
