#!/usr/bin/env python3
"""What the stored 1-bit codes (table rekall_index_codes) cost, on a store a
`rekall serve` has written them to (bench/engine/first_search.py --settle).

    python3 bench/engine/codes_cost.py /tmp/copy-of-a-store.db --runs 5

Prints, median of --runs from fresh connections:
  - read: every chunk of the table read in order, what a fresh server's
    first search reads (index/stored_codes.cc, ReadStoredCodes);
  - rewrite: the same rows deleted and inserted again in one write
    transaction, the statements a server runs after its background load
    when the codes are not current (WriteStoredCodes; the encoding of the
    codes, done during the load, is not in it);
and the bytes the table holds. The store is written to: pass a copy.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import time


def timed(fn) -> float:
    t0 = time.monotonic()
    fn()
    return (time.monotonic() - t0) * 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    con = sqlite3.connect(a.db)
    chunks = con.execute("SELECT chunk, keys, data FROM rekall_index_codes ORDER BY chunk").fetchall()
    con.close()
    if not chunks:
        raise SystemExit("no codes stored in " + a.db)
    payload = sum(len(k) + len(d) for _, k, d in chunks)
    reads, writes = [], []
    for _ in range(a.runs):
        con = sqlite3.connect(a.db, isolation_level=None)
        reads.append(timed(lambda: con.execute("SELECT chunk, keys, data FROM rekall_index_codes ORDER BY chunk")
                           .fetchall()))

        def rewrite() -> None:
            con.execute("BEGIN IMMEDIATE")
            con.execute("DELETE FROM rekall_index_codes")
            con.executemany("INSERT INTO rekall_index_codes(chunk, keys, data) VALUES (?, ?, ?)", chunks)
            con.execute("COMMIT")

        writes.append(timed(rewrite))
        con.close()
    print(f"rekall_index_codes: {len(chunks) - 1} chunks, {payload} bytes of keys and codes; "
          f"file {os.path.getsize(a.db)} bytes; load {os.getloadavg()[0]:.1f}")
    print(f"  read    median {statistics.median(reads):6.1f} ms  (all: {[round(x, 1) for x in reads]})")
    print(f"  rewrite median {statistics.median(writes):6.1f} ms  (all: {[round(x, 1) for x in writes]})")


if __name__ == "__main__":
    main()
