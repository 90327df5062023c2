#!/usr/bin/env python3
"""Keyword (or hybrid) searches through two `rekall serve` binaries, compared result by result.

    python3 bench/soak/keyword_parity.py --bin build/rekall --ref /tmp/kw-base/rekall --db STORE \\
        [--queries queries.jsonl | --soak-queries 500] [--mode keyword]

Each server gets its own copy of STORE (never written). The new binary ranks
keyword searches with its in-memory index once built (the script waits for
it); the reference binary ranks with FTS5. Every query must give the same
ids in the same order with the same bm25 scores, to the last bit (JSON
doubles round-trip): exit status 1 and the first differences otherwise.
`--queries` reads BEIR's queries.jsonl (its "text" field), e.g. SciFact's.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import focus  # noqa: E402
import soak  # noqa: E402


def results(srv: soak.Server, query: str, mode: str, limit: int, extra: dict) -> list[tuple]:
    res = srv.call("rekall_search", {"query": query, "mode": mode, "limit": limit, **extra})
    if res.get("isError"):
        return [("error", res["content"][0]["text"])]
    return [(r["id"], json.dumps(r.get("why"), sort_keys=True), r.get("score"))
            for r in res["structuredContent"]["results"]]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="the binary under test")
    ap.add_argument("--ref", required=True, help="the reference binary (FTS5 ranks)")
    ap.add_argument("--db", required=True)
    ap.add_argument("--queries", help="BEIR queries.jsonl")
    ap.add_argument("--soak-queries", type=int, default=300, help="soak.py's queries, when no --queries")
    ap.add_argument("--mode", default="keyword", choices=["keyword", "hybrid"])
    ap.add_argument("--limit", type=int, default=10)
    ap.add_argument("--filters", action="store_true",
                    help="ask each query three times: unfiltered, with a type and with a project filter")
    a = ap.parse_args()
    if a.queries:
        qs = [json.loads(line)["text"] for line in open(a.queries, encoding="utf-8")]
    else:
        rng = random.Random(7)
        qs = [soak.make_query(rng) for _ in range(a.soak_queries)]
    with tempfile.TemporaryDirectory() as tmp:
        servers = []
        for name, binary in (("new", a.bin), ("ref", a.ref)):
            db = Path(tmp) / f"{name}.db"
            shutil.copy(a.db, db)
            cfg = Path(tmp) / "config.toml"
            cfg.write_text("")
            srv = soak.Server(binary, db, cfg, 600)
            srv.request("initialize", focus.INIT)
            focus.wait_keyword_index(srv, binary)
            servers.append(srv)
        try:
            bad = 0
            frng = random.Random(11)
            cases = [(q, {}) for q in qs]
            if a.filters:
                cases += [(q, {"type": frng.choice(soak.TYPES)}) for q in qs]
                cases += [(q, {"project": frng.choice([p for p in soak.PROJECTS if p])}) for q in qs]
            for q, extra in cases:
                new, ref = (results(s, q, a.mode, a.limit, extra) for s in servers)
                if new != ref:
                    bad += 1
                    if bad <= 5:
                        print(f"differs: {q!r} {extra}\n  new {new}\n  ref {ref}")
            info = servers[0].call("rekall_info", {}).get("structuredContent", {}).get("keyword_index")
            print(f"{len(cases)} {a.mode} queries, {bad} differ; keyword index of the new binary: {info}")
            return 1 if bad else 0
        finally:
            for s in servers:
                s.close()


if __name__ == "__main__":
    sys.exit(main())
