"""Builds a store of N entries quickly, for the storage benchmarks (doctor,
vacuum). `rekall` creates the empty file (Rekall's schema and ours); the
entries, their tags and random unit summary vectors are then written
straight into Rekall's tables, as Rekall itself writes them (its triggers
fill the FTS index); `rekall index status` last builds the vec0 table from
the embeddings. Going through `rekall import` would take minutes per
10,000 entries, and computing real embeddings longer still.

    python3 bench/storage/make_store.py --bin build/rekall --entries 10000 knowledge.db
    python3 bench/storage/make_store.py --bin build/rekall --entries 100000 --texts soak kb.db

`--texts soak` writes the soak benchmark's notes (bench/soak/soak.py: a few
hundred words, near-duplicate templates) instead of draws from 30 words, so
that keyword search sees realistic term frequencies at sizes the soak's
import would take an hour to embed.
"""

import argparse
import os
import random
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

WORDS = ("nginx proxy timeout postgres pool react effect cache index query model vector search thread lock "
         "retry backoff deadlock migration schema cursor socket buffer latency memory leak compile linker").split()
TYPES = ["bug", "pattern", "decision", "pitfall", "config", "reference"]
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def unit_vector(rnd: random.Random) -> bytes:
    v = [rnd.gauss(0, 1) for _ in range(384)]
    norm = sum(x * x for x in v) ** 0.5
    return struct.pack("<384f", *[x / norm for x in v])


def entry_rows(i: int, rnd: random.Random):
    eid = "01J" + "".join(rnd.choice(CROCKFORD) for _ in range(23))
    at = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00"
    entry = (eid, f"note {i} " + " ".join(rnd.sample(WORDS, 4)), " ".join(rnd.choices(WORDS, k=60)),
             TYPES[i % len(TYPES)], "bench", at, at)
    tags = [(eid, t) for t in sorted(rnd.sample(WORDS, 3))]
    emb = (eid + "-s", eid, "summary", unit_vector(rnd), 384, MODEL, at)
    return entry, tags, emb


def soak_entry_rows(i: int, rnd: random.Random):
    """entry_rows with the soak benchmark's text, type, project and tags."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "soak"))
    import soak  # noqa: E402
    e = soak.make_entry(rnd, i)
    entry, _, emb = entry_rows(i, rnd)
    entry = (entry[0], e["title"], e["content"], e["type"], e.get("project"), entry[5], entry[6])
    return entry, [(entry[0], t) for t in e["tags"]], emb


def write_entries(db: str, n: int, rnd: random.Random, rows=entry_rows) -> None:
    con = sqlite3.connect(db)
    for i in range(n):
        entry, tags, emb = rows(i, rnd)
        # Tags first: the insert trigger indexes the entry's tags with it.
        con.executemany("INSERT INTO tags(entry_id, tag) VALUES (?, ?)", tags)
        con.execute("INSERT INTO entries(id, title, content, type, project, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", entry)
        con.execute("INSERT INTO embeddings VALUES (?, ?, ?, ?, ?, ?, ?)", emb)
    con.commit()
    con.close()


def make_store(rekall: str, db: str, n: int, seed: int = 7, texts: str = "words") -> None:
    """Writes a fresh store of n entries at db (removed first)."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    quiet = {"check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([rekall, "--db", db, "--quiet", "stats"], **quiet)  # creates the schema
    write_entries(db, n, random.Random(seed), soak_entry_rows if texts == "soak" else entry_rows)
    subprocess.run([rekall, "--db", db, "--quiet", "index", "status"], **quiet)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--texts", choices=["words", "soak"], default="words")
    a = ap.parse_args()
    make_store(os.path.abspath(a.bin), os.path.abspath(a.db), a.entries, texts=a.texts)


if __name__ == "__main__":
    main()
