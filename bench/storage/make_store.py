"""Builds a store of N entries quickly, for the storage benchmarks (doctor,
vacuum). `rekall` creates the empty file (Rekall's schema and ours); the
entries, their tags and random unit summary vectors are then written
straight into Rekall's tables, as Rekall itself writes them (its triggers
fill the FTS index); `rekall index status` last builds the vec0 table from
the embeddings. Going through `rekall import` would take minutes per
10,000 entries, and computing real embeddings longer still.

    python3 bench/storage/make_store.py --bin build/rekall --entries 10000 knowledge.db
"""

import argparse
import os
import random
import sqlite3
import struct
import subprocess

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


def write_entries(db: str, n: int, rnd: random.Random) -> None:
    con = sqlite3.connect(db)
    for i in range(n):
        entry, tags, emb = entry_rows(i, rnd)
        # Tags first: the insert trigger indexes the entry's tags with it.
        con.executemany("INSERT INTO tags(entry_id, tag) VALUES (?, ?)", tags)
        con.execute("INSERT INTO entries(id, title, content, type, project, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)", entry)
        con.execute("INSERT INTO embeddings VALUES (?, ?, ?, ?, ?, ?, ?)", emb)
    con.commit()
    con.close()


def make_store(rekall: str, db: str, n: int, seed: int = 7) -> None:
    """Writes a fresh store of n entries at db (removed first)."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
    quiet = {"check": True, "stdout": subprocess.DEVNULL}
    subprocess.run([rekall, "--db", db, "--quiet", "stats"], **quiet)  # creates the schema
    write_entries(db, n, random.Random(seed))
    subprocess.run([rekall, "--db", db, "--quiet", "index", "status"], **quiet)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--entries", type=int, default=10000)
    a = ap.parse_args()
    make_store(os.path.abspath(a.bin), os.path.abspath(a.db), a.entries)


if __name__ == "__main__":
    main()
