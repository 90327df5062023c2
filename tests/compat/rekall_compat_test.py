#!/usr/bin/env python3
"""After we have used a Rekall database, Rekall can still open it.

For each of Rekall's fixture databases (schemas 12, 7 and 2): our binary
migrates it, adds, edits and deletes entries, embeds, searches (building the
sqlite-vec table). Then, the way Rekall's Python code reaches the file
(Python's sqlite3, no sqlite-vec loaded):
  - PRAGMA user_version is still Rekall's;
  - every original entry and embedding reads back with the same bytes;
  - the entries we added read as Rekall rows (valid type, ULID id, tags);
  - integrity_check passes, and Rekall's own upgrade statements for the
    versions after the file's (all CREATE ... IF NOT EXISTS for the tables
    we may have added) still run.
Usage: rekall_compat_test.py REKALL_BIN
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures", "rekall")

# Rekall's migration 3 (embeddings table), which a Rekall at schema 2 runs
# when it upgrades the file: it must succeed on a file we migrated.
REKALL_V3_EMBEDDINGS = """CREATE TABLE IF NOT EXISTS embeddings (
    id TEXT PRIMARY KEY, entry_id TEXT NOT NULL, embedding_type TEXT NOT NULL,
    vector BLOB NOT NULL, dimensions INTEGER NOT NULL, model_name TEXT NOT NULL,
    created_at TEXT NOT NULL,
    FOREIGN KEY (entry_id) REFERENCES entries(id) ON DELETE CASCADE,
    CHECK (embedding_type IN ('summary', 'context')),
    CHECK (dimensions IN (128, 384, 768)),
    UNIQUE(entry_id, embedding_type))"""


def rows(db, sql):
    con = sqlite3.connect(db)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def rekall(binary, db, *args, stdin=None):
    r = subprocess.run([binary, "--db", db, "--quiet"] + list(args), input=stdin, capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError("rekall %s failed: %s" % (" ".join(args), r.stderr))
    return r.stdout


def check(binary, name, work):
    src = os.path.join(FIXTURES, name)
    db = os.path.join(work, name)
    shutil.copy(src, db)
    version = rows(src, "PRAGMA user_version")[0][0]
    orig_entries = rows(src, "SELECT * FROM entries ORDER BY id")
    has_emb = bool(rows(src, "SELECT 1 FROM sqlite_master WHERE name='embeddings'"))
    orig_emb = rows(src, "SELECT * FROM embeddings ORDER BY id") if has_emb else []

    rekall(binary, db, "migrate")
    added = json.loads(rekall(binary, db, "--json", "add", "--title", "added by the C++ engine", "--type", "pattern",
                              "--content", "compatibility check", "--tag", "compat"))["id"]
    rekall(binary, db, "edit", added, "--confidence", "4")
    extra = json.loads(rekall(binary, db, "--json", "add", "--title", "to delete", "--type", "bug"))["id"]
    rekall(binary, db, "delete", extra)
    rekall(binary, db, "index", "rebuild")
    # A search counts a read of each result in Rekall's access columns, as
    # Rekall's search does: the tag keeps the read to the entry we added.
    rekall(binary, db, "search", "--tag", "compat", "compatibility")

    con = sqlite3.connect(db)  # as Rekall does: no extension loaded
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == version, "user_version changed"
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)], "integrity_check"
        now = {r[0]: r for r in con.execute("SELECT * FROM entries ORDER BY id")}
        for r in orig_entries:
            assert now.get(r[0]) == r, "entry %s changed" % r[0]
        if has_emb:
            now_emb = {r[0]: r for r in con.execute("SELECT * FROM embeddings")}
            for r in orig_emb:
                assert now_emb.get(r[0]) == r, "embedding %s changed" % r[0]
        row = con.execute("SELECT id, type, confidence, status FROM entries WHERE id = ?", (added,)).fetchone()
        assert row and len(row[0]) == 26 and row[1] == "pattern" and row[2] == 4 and row[3] == "active", row
        assert con.execute("SELECT tag FROM tags WHERE entry_id = ?", (added,)).fetchall() == [("compat",)]
        assert con.execute("SELECT COUNT(*) FROM entries WHERE id = ?", (extra,)).fetchone()[0] == 0
        emb = con.execute("SELECT length(vector), dimensions, model_name FROM embeddings WHERE entry_id = ? "
                          "AND embedding_type = 'summary'", (added,)).fetchone()
        assert emb == (1536, 384, "sentence-transformers/all-MiniLM-L6-v2"), emb
        # Rekall's upgrade of the file from its version still applies.
        con.execute(REKALL_V3_EMBEDDINGS)
        con.execute("CREATE INDEX IF NOT EXISTS idx_embeddings_entry ON embeddings(entry_id)")
        con.execute("CREATE TABLE IF NOT EXISTS metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        con.commit()
    finally:
        con.close()
    print("ok   %s (Rekall schema %d): %d entries, %d embeddings unchanged; ours readable"
          % (name, version, len(orig_entries), len(orig_emb)))


def main():
    binary = sys.argv[1]
    names = [n for n in ("rekall-v12.db", "rekall-v7.db", "rekall-v2.db") if os.path.exists(os.path.join(FIXTURES, n))]
    if not names:
        print("fixtures absent at %s" % FIXTURES)
        sys.exit(1)
    work = tempfile.mkdtemp(prefix="rekall_compat_")
    failed = 0
    try:
        for n in names:
            try:
                check(binary, n, work)
            except AssertionError as e:
                failed += 1
                print("FAIL %s: %s" % (n, e))
    finally:
        shutil.rmtree(work)
    print("%d passed, %d failed" % (len(names) - failed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
