"""The size of a store against Rekall's for the same entries (issue 14 #4).

Makes a store of N entries with each binary (make_store.py: entries, tags,
random unit summary vectors; the vector values do not change the size),
then compares, each file compacted by VACUUM INTO:
  - ours: the whole file (Rekall's tables, ours, the vec0 table);
  - Rekall's: the same file with our tables dropped (rekall_engine_*,
    rekall_index_state, embeddings_vec and its shadow tables), i.e. what
    Rekall's own schema holds for these entries;
  - vec0: the bytes of embeddings_vec's tables (dbstat).
Rekall itself is not run: its `add` computes embeddings with
sentence-transformers, and its schema is the one these files carry.

    python3 bench/storage/store_size.py --entries 10000,100000 build/rekall [/path/to/old/rekall ...]
"""

import argparse
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_store  # noqa: E402

OURS = "name LIKE 'rekall_engine_%' OR name = 'rekall_index_state'"


def vacuum_into(src: str, dst: str) -> int:
    con = sqlite3.connect(src)
    con.execute("VACUUM INTO ?", (dst,))
    con.close()
    return os.path.getsize(dst)


def vec0_bytes(db: str) -> int:
    # dbstat is in the sqlite3 shell (the Python module may lack it).
    out = subprocess.run(["sqlite3", db, "SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE "
                          "'embeddings_vec%' OR name LIKE 'sqlite_autoindex_embeddings_vec%'"],
                         check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


def rekall_only(db: str, dst: str, vec0_so: str) -> int:
    """Our tables dropped (vec0 loaded: a virtual table is dropped through its module)."""
    shutil.copy(db, dst)
    con = sqlite3.connect(dst)
    ours = [r[0] for r in con.execute(f"SELECT name FROM sqlite_master WHERE type = 'table' AND ({OURS})")]
    con.close()
    sql = f".load {vec0_so} sqlite3_vec_init\nDROP TABLE IF EXISTS embeddings_vec;\n"
    sql += "".join(f"DROP TABLE IF EXISTS {t};\n" for t in ours) + "VACUUM;\n"
    subprocess.run(["sqlite3", dst], input=sql, check=True, text=True)
    return os.path.getsize(dst)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("bins", nargs="+")
    ap.add_argument("--entries", default="10000")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--vec0", default=os.path.join(here, "..", "..", "deps", "sqlite-vec", "vec0.so"))
    a = ap.parse_args()
    vec0_so = os.path.realpath(a.vec0)
    print("| binary | entries | file as built MB | compacted MB | vec0 tables MB | Rekall's tables MB | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(x) for x in a.entries.split(",")]:
            for b in a.bins:
                db = os.path.join(tmp, "knowledge.db")
                make_store.make_store(os.path.abspath(b), db, n)
                built = os.path.getsize(db)
                compact = vacuum_into(db, os.path.join(tmp, "compact.db"))
                vec0 = vec0_bytes(os.path.join(tmp, "compact.db"))
                rekall = rekall_only(os.path.join(tmp, "compact.db"), os.path.join(tmp, "rekall.db"), vec0_so)
                print(f"| {b} | {n} | {built / 1e6:.1f} | {compact / 1e6:.1f} | {vec0 / 1e6:.1f} | "
                      f"{rekall / 1e6:.1f} | {compact / rekall:.2f}x |", flush=True)
                for f in ("knowledge.db", "compact.db", "rekall.db"):
                    os.remove(os.path.join(tmp, f))


if __name__ == "__main__":
    main()
