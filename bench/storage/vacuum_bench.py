"""`rekall vacuum` after deleting half the entries (issue 14 #7): builds a
store with make_store.py, deletes every other entry (with its tags, FTS
row and embedding, in Rekall's tables; `rekall index status` then drops
their vec0 rows, whose space sqlite-vec never frees), and measures the
file's size after the deletes and after `rekall vacuum`. Checks that no
entry was lost: the same ids, and the same answers to a few searches in
each mode before and after. No timing assertion (the ctest smoke runs a
small count).

    python3 bench/storage/vacuum_bench.py --bin build/rekall --entries 100000
"""

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_store  # noqa: E402

QUERIES = ["nginx proxy timeout", "postgres pool deadlock", "memory leak linker"]


def rekall_json(rekall: str, db: str, *args: str) -> dict:
    p = subprocess.run([rekall, "--db", db, "--json", "--quiet"] + list(args), capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"rekall {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return json.loads(p.stdout)


def answers(rekall: str, db: str) -> list:
    out = []
    for q in QUERIES:
        for mode in ("keyword", "hybrid"):
            r = rekall_json(rekall, db, "search", "--mode", mode, "--limit", "10", q)
            out.append([(x["id"], round(x["score"], 6)) for x in r["results"]])
    return out


def delete_half(rekall: str, db: str) -> int:
    """Deletes every other entry with its tags, embedding and FTS row, in one
    transaction. Rekall's delete trigger finds an entry's FTS row by its
    UNINDEXED id, a scan of the FTS table per deleted entry (hours for 50,000
    deletes at 100,000 entries); so the trigger is set aside for the bulk
    delete and put back with its own DDL, and the FTS rows go in one scan.
    The file ends as per-entry deletes leave it."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN")
    ids = [r[0] for r in con.execute("SELECT id FROM entries ORDER BY id")][::2]
    con.execute("CREATE TEMP TABLE gone(id TEXT PRIMARY KEY)")
    con.executemany("INSERT INTO temp.gone VALUES (?)", [(i,) for i in ids])
    (trigger,) = con.execute("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'entries_ad'").fetchone()
    con.execute("DROP TRIGGER entries_ad")
    con.execute("DELETE FROM entries_fts WHERE rowid IN "
                "(SELECT rowid FROM entries_fts WHERE id IN (SELECT id FROM temp.gone))")
    for table, column in (("tags", "entry_id"), ("embeddings", "entry_id"), ("entries", "id")):
        con.execute(f"DELETE FROM {table} WHERE {column} IN (SELECT id FROM temp.gone)")
    con.execute(trigger)
    con.execute("COMMIT")
    con.close()
    rekall_json(rekall, db, "index", "status")  # the vec0 rows of the deleted entries go too
    return len(ids)


def ids_of(db: str) -> list:
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT id FROM entries ORDER BY id")]
    con.close()
    return ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--entries", type=int, default=100000)
    a = ap.parse_args()
    rekall = os.path.abspath(a.bin)
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "knowledge.db")
        make_store.make_store(rekall, db, a.entries)
        full = os.path.getsize(db)
        deleted = delete_half(rekall, db)
        before, kept, found = os.path.getsize(db), ids_of(db), answers(rekall, db)
        t0 = time.perf_counter()
        r = rekall_json(rekall, db, "vacuum")
        wall = time.perf_counter() - t0
        after = os.path.getsize(db)
        if ids_of(db) != kept or answers(rekall, db) != found:
            sys.exit("vacuum changed the entries or the search results")
        if not rekall_json(rekall, db, "doctor")["healthy"]:  # exits 1 (and stops here) when not
            sys.exit("doctor finds the vacuumed store unhealthy")
        if r["bytes_after"] != after or r["entries"] != len(kept) or after >= before:
            sys.exit(f"unexpected vacuum report {r} (file {before} -> {after} bytes)")
        with open("/proc/loadavg") as f:
            load = f.read().split()[0]
        print(f"{a.entries} entries: {full / 1e6:.1f} MB; {deleted} deleted: {before / 1e6:.1f} MB; "
              f"after vacuum: {after / 1e6:.1f} MB ({100 * after / before:.0f}%, "
              f"vec0 rebuilt: {r['vector_index_rebuilt']}) in {wall:.1f} s (load average {load})")


if __name__ == "__main__":
    main()
