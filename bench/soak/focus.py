#!/usr/bin/env python3
"""One kind of request against `rekall serve`, for several binaries side by side.

    python3 bench/soak/focus.py --kind keyword --bin build/rekall --bin /tmp/rekall-old
    python3 bench/soak/focus.py --kind writes --requests 200 --rounds 2 --bin A --bin B
    python3 bench/soak/focus.py --kind keyword --filter project --bin A --bin B --db kw100k.db
    python3 bench/soak/focus.py --kind keyword --words 64 --bin A --db kw100k.db

Where soak.py mixes every tool to watch memory over a long session, this
measures one path at a time (keyword, hybrid or semantic search; writes =
adds and updates alternating) on a copy of soak.py's cached 10K-entry store
(built on first use, minutes), each binary in turn, `--rounds` times
interleaved so that a change in the machine's load hits every binary alike.
Besides wall-clock percentiles it reports the server process's CPU time per
request (utime + stime from /proc), which the other processes on a shared
machine disturb much less than latency. The load average is printed with
each round: the figures are only comparable within one run.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import soak  # noqa: E402

INIT = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "focus", "version": "1"}}


def server_cpu(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def word_pool(db: Path) -> list[str]:
    """Words of the store's own notes (3+ letters, from 2,000 entries), so
    that queries of many words hold rare words as well as common ones."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT title || ' ' || content FROM entries ORDER BY rowid LIMIT 2000").fetchall()
    finally:
        con.close()
    return sorted({w for (t,) in rows for w in re.findall(r"[a-z]{3,}", (t or "").lower())})


def query_of(rng: random.Random, words: int, pool: list[str]) -> str:
    """A soak query, or one of exactly `words` words of `pool` (to show how
    cost grows with a query's length)."""
    if not words:
        return soak.make_query(rng)
    return " ".join(rng.choice(pool) for _ in range(words))


def filter_of(rng: random.Random, kind: str) -> dict:
    """A search's filter: none, a type or a project (each keeps about a
    sixth of the soak's notes), or a project no note has."""
    if kind == "type":
        return {"type": rng.choice(soak.TYPES)}
    if kind == "project":
        return {"project": rng.choice([p for p in soak.PROJECTS if p])}
    return {"project": "no-such-project"} if kind == "nothing" else {}


def requests(kind: str, n: int, ids: list[str], seed: int, words: int = 0, pool: list[str] | None = None,
             filt: str = "none"):
    rng = random.Random(seed)
    for i in range(n):
        if kind == "writes" and i % 2 == 0:
            yield "add", "rekall_add", soak.make_entry(rng, 50000 + i)
        elif kind == "writes":
            yield "update", "rekall_update", {"id": rng.choice(ids), "confidence": rng.randint(0, 5),
                                              "content": soak.make_entry(rng, i)["content"]}
        else:
            yield kind, "rekall_search", {"query": query_of(rng, words, pool or []), "mode": kind, "limit": 10,
                                              **filter_of(rng, filt)}


def wait_keyword_index(srv, binary: str) -> dict:
    """Waits (searching: a search installs a finished build) until a server
    that keeps an in-memory keyword index has it, so that warm searches are
    timed; says how long its build took and what it holds."""
    t = time.perf_counter()
    while time.perf_counter() - t < 300:
        srv.call("rekall_search", {"query": "timeout", "mode": "keyword", "limit": 1})
        ki = srv.call("rekall_info", {}).get("structuredContent", {}).get("keyword_index")
        if ki is None:
            return {}  # a binary without one
        if ki["state"] == "ready" or ki.get("last_error"):
            print(f"{binary}: keyword index {ki['state']}, built in {ki['last_build_ms']:.0f} ms, "
                  f"{ki['memory_bytes'] / 2**20:.1f} MB {ki.get('last_error', '')}", file=sys.stderr)
            return ki
        time.sleep(0.05)
    return {}


def run_one(binary: str, base: Path, kind: str, n: int, seed: int, words: int = 0,
            filt: str = "none") -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "kb.db"
        shutil.copy(base, db)
        cfg = Path(tmp) / "config.toml"
        cfg.write_text("")
        srv = soak.Server(binary, db, cfg, 600)
        try:
            srv.request("initialize", INIT)
            warm = srv.call("rekall_search", {"query": "timeout", "mode": "keyword", "limit": 200})
            ids = [r["id"] for r in warm["structuredContent"]["results"]]
            # The model and the index are loaded before timing (a write's first
            # call would otherwise time the model load).
            srv.call("rekall_search", {"query": "warm up", "mode": "semantic" if kind == "writes" else kind,
                                       "limit": 10})
            k0 = wait_keyword_index(srv, binary)
            lat: dict[str, list[float]] = {}
            c0 = server_cpu(srv.proc.pid)
            pool = word_pool(base) if words else None
            for label, tool, args in requests(kind, n, ids, seed, words, pool, filt):
                t = time.perf_counter()
                res = srv.call(tool, args)
                lat.setdefault(label, []).append((time.perf_counter() - t) * 1000)
                if res.get("isError"):
                    raise RuntimeError(f"{tool}: {res['content'][0]['text']}")
            lat["cpu"] = [(server_cpu(srv.proc.pid) - c0) * 1000 / n]
            info = srv.call("rekall_info", {}).get("structuredContent", {})
            ki = info.get("keyword_index")
            ki = (f", timed searches ranked by the keyword index: {ki['answered'] - k0.get('answered', 0)}, "
                  f"by FTS5: {ki['fts5_answered'] - k0.get('fts5_answered', 0)}, builds {ki['builds']}") if ki else ""
            print(f"{binary}: server RSS {info.get('rss_kb', 0) / 1024:.0f} MB after the run{ki}", file=sys.stderr)
            return lat
        finally:
            srv.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", action="append", required=True, help="a rekall binary (repeat to compare)")
    ap.add_argument("--kind", choices=["keyword", "hybrid", "semantic", "writes"], default="keyword")
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--cache-dir", default=str(soak.ROOT / "build" / "soak-cache"))
    ap.add_argument("--db", help="time this store instead of the soak's (e.g. bench/storage/make_store.py "
                    "--texts soak at 100K, whose vectors are random: for keyword timing)")
    ap.add_argument("--words", type=int, default=0,
                    help="searches of exactly this many words drawn from the store's notes "
                    "(default: the soak's own queries)")
    ap.add_argument("--filter", choices=["none", "type", "project", "nothing"], default="none",
                    help="searches filtered by a type, a project, or a project no note has")
    args = ap.parse_args()
    base = Path(args.db) if args.db else soak.build_db(args.bin[0], args.entries, Path(args.cache_dir))
    print(f"| round | load avg | binary | request | p50 ms | p95 ms | max ms | server CPU ms/request |")
    print("|---|---|---|---|---:|---:|---:|---:|")
    for r in range(args.rounds):
        for b in args.bin:
            load = os.getloadavg()[0]
            lat = run_one(b, base, args.kind, args.requests, seed=r, words=args.words, filt=args.filter)
            cpu = lat.pop("cpu")[0]
            for label, xs in lat.items():
                print(f"| {r + 1} | {load:.1f} | {b} | {label} | {soak.percentile(xs, 50):.1f} | "
                      f"{soak.percentile(xs, 95):.1f} | {max(xs):.1f} | {cpu:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
