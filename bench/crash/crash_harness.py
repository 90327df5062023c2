#!/usr/bin/env python3
"""Crash-safety harness: SIGKILL `rekall` at random points of its writes.

Each point runs one command (add, edit, delete, import, migrate, index
rebuild, the first open of a database whose sqlite-vec table must be built)
as a separate process and kills it with SIGKILL after a random delay within
the command's measured duration. The "concurrent" points run two writers at
once (an `edit --add-tag` that is killed, an `add` that is not): the
survivor must succeed, and the killed one be wholly there or not at all. After every kill it checks, with Python's own
sqlite3 (not our code):
  - the database opens and PRAGMA integrity_check is ok;
  - no committed entry is lost or half-written: every entry we know was
    committed is there with exactly its fields, tags, keyword-index row and
    embedding; the killed command's entry is either wholly before or wholly
    after the change;
  - no orphan rows (tags, embeddings of missing entries);
and, after the next start (`rekall doctor --json`), that the vector index
equals the embeddings table and the keyword index matches the entries.
For the vecbuild points (`rekall index status` on a copy of a database of
VEC_ROWS embeddings without embeddings_vec, killed once or twice while it
builds the table), embeddings_vec is read through its rowid shadow table
(no extension needed): after each kill it holds no duplicate and no stray
id and is never marked complete while partial; after the next start it
holds exactly the embeddings and is marked complete.

    bench/crash/crash_harness.py --points 200          # the full run
    bench/crash/crash_harness.py --points 20           # CI's reduced run
"""
import argparse
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURES = os.path.join(ROOT, "..", "shared", "fixtures", "rekall")


class Failure(Exception):
    pass


def run(binary, db, args, stdin=None, timeout=120):
    cmd = [binary, "--db", db, "--quiet"] + args
    return subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)


def run_and_kill(binary, db, args, delay):
    """Starts the command, SIGKILLs it after `delay` s. True if it was killed
    before it finished (False: it exited first, with its exit code checked)."""
    p = subprocess.Popen([binary, "--db", db, "--quiet"] + args, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(delay)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True
    err = p.stderr.read()
    if p.returncode != 0:
        raise Failure("command %s failed on its own: %s" % (args, err))
    return False


def start(binary, db, args):
    return subprocess.Popen([binary, "--db", db, "--quiet"] + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def kill_after(p, delay):
    """SIGKILLs process `p` after `delay` s unless it exited; True if killed."""
    time.sleep(delay)
    if p.poll() is None:
        p.send_signal(signal.SIGKILL)
        p.wait()
        return True
    return False


def connect(db):
    con = sqlite3.connect(db)
    vec = os.path.join(ROOT, "deps", "sqlite-vec", "vec0.so")
    if os.path.exists(vec):
        try:
            con.enable_load_extension(True)
            con.load_extension(vec)
        except Exception:  # the checks below need no extension
            pass
    return con


def snapshot(db):
    """Every entry with its tags, FTS row and summary embedding size."""
    con = connect(db)
    try:
        ic = con.execute("PRAGMA integrity_check").fetchall()
        if ic != [("ok",)]:
            raise Failure("integrity_check: %r" % ic[:5])
        entries = {}
        for row in con.execute("SELECT id, title, content, type, project, confidence, status FROM entries"):
            entries[row[0]] = {"title": row[1], "content": row[2], "type": row[3], "project": row[4],
                               "confidence": row[5], "status": row[6], "tags": [], "fts": None, "emb": None}
        for eid, tag in con.execute("SELECT entry_id, tag FROM tags ORDER BY tag"):
            if eid not in entries:
                raise Failure("orphan tag %r of missing entry %s" % (tag, eid))
            entries[eid]["tags"].append(tag)
        for eid, title, content in con.execute("SELECT id, title, content FROM entries_fts"):
            if eid not in entries:
                raise Failure("keyword-index row of missing entry %s" % eid)
            entries[eid]["fts"] = (title, content)
        has_emb = con.execute("SELECT 1 FROM sqlite_master WHERE name='embeddings'").fetchone()
        if has_emb:
            for eid, n in con.execute("SELECT entry_id, length(vector) FROM embeddings WHERE embedding_type='summary'"):
                if eid not in entries:
                    raise Failure("orphan embedding of missing entry %s" % eid)
                if n != 1536:
                    raise Failure("half-written embedding of %s: %d bytes" % (eid, n))
                entries[eid]["emb"] = n
        for eid, e in entries.items():
            if e["fts"] != (e["title"], e["content"]):
                raise Failure("keyword index out of step for %s" % eid)
        return entries
    finally:
        con.close()


def same(a, b):
    keys = ("title", "content", "type", "project", "confidence", "status", "tags")
    return all(a[k] == b[k] for k in keys)


def check_doctor(binary, db):
    r = run(binary, db, ["--json", "doctor"])
    if r.returncode not in (0, 1):  # 1: warnings left, judged below
        raise Failure("doctor failed: %s %s" % (r.stdout, r.stderr))
    j = json.loads(r.stdout)
    bad = [f for f in j["findings"]
           if f["check"] in ("integrity", "orphan_embeddings", "orphan_tags", "fts_drift", "index_drift", "index")
           and f["severity"] not in ("ok", "info")]
    if bad:
        raise Failure("after restart: %s" % bad)


VEC_ROWS = 6000  # a few build batches (2000 rows each by default)
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def make_vecbuild_source(binary, path, rnd):
    """A database of VEC_ROWS entries with random unit summary embeddings
    written by Python, and no embeddings_vec: opening it builds the table."""
    lines = "".join(json.dumps({"title": "vec %d" % i, "type": rnd.choice(["bug", "pattern"]),
                                "content": "vector build %d" % i}) + "\n" for i in range(VEC_ROWS))
    r = run(binary, path, ["import", "--no-embed", "-"], stdin=lines)
    if r.returncode != 0:
        raise SystemExit("vecbuild setup import failed: " + r.stderr)
    con = sqlite3.connect(path)
    rows = []
    for (eid,) in con.execute("SELECT id FROM entries"):
        v = [rnd.gauss(0, 1) for _ in range(384)]
        n = math.sqrt(sum(x * x for x in v))
        rows.append((eid + ":summary", eid, "summary", struct.pack("<384f", *[x / n for x in v]), 384, MODEL,
                     "2026-01-01T00:00:00"))
    con.executemany("INSERT OR REPLACE INTO embeddings(id, entry_id, embedding_type, vector, dimensions,"
                    " model_name, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    con.commit()
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'embeddings_vec'").fetchone():
        raise SystemExit("vecbuild setup: `import --no-embed` created embeddings_vec")
    if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'rekall_index_state'").fetchone():
        con.execute("DELETE FROM rekall_index_state WHERE name = 'embeddings_vec'")
        con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()


def vec_state(db):
    """(state value or None, rows, distinct ids, ids outside the sources) of
    embeddings_vec, read from its rowid shadow table (no extension needed)."""
    con = sqlite3.connect(db)
    try:
        st = None
        if con.execute("SELECT 1 FROM sqlite_master WHERE name = 'rekall_index_state'").fetchone():
            r = con.execute("SELECT value FROM rekall_index_state WHERE name = 'embeddings_vec'").fetchone()
            st = r[0] if r else None
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'embeddings_vec_rowids'").fetchone():
            return st, 0, 0, 0
        n, d = con.execute("SELECT count(*), count(DISTINCT id) FROM embeddings_vec_rowids").fetchone()
        stray = con.execute("SELECT count(*) FROM embeddings_vec_rowids WHERE id NOT IN (SELECT m.entry_id FROM"
                            " embeddings m JOIN entries e ON e.id = m.entry_id WHERE m.embedding_type = 'summary')"
                            ).fetchone()[0]
        return st, n, d, stray
    finally:
        con.close()


IMPORT_LINES = 30


def import_point(binary, db, point, rnd, committed, d_add):
    """`import` of IMPORT_LINES entries killed at a random time: all of them
    or none (an import is one transaction)."""
    new = {}
    lines = ""
    for i in range(IMPORT_LINES):
        title = "import %d %d" % (point, i)
        new[title] = {"title": title, "content": "imported %d" % i, "type": "pattern", "project": None,
                      "confidence": 2, "status": "active", "tags": ["imported"]}
        lines += json.dumps({"title": title, "content": "imported %d" % i, "type": "pattern",
                             "tags": ["imported"]}) + "\n"
    path = db + ".import.jsonl"
    with open(path, "w") as f:
        f.write(lines)
    # An import embeds every entry: up to about one add's time per line.
    killed = run_and_kill(binary, db, ["import", path], rnd.uniform(0, d_add * 3))
    after = snapshot(db)
    added = {e["title"]: e for eid, e in after.items() if eid not in committed}
    if added and set(added) != set(new):
        raise Failure("half-done import: %d of %d entries" % (len(added), len(new)))
    if any(not same(added[t], new[t]) for t in added):
        raise Failure("import wrote an entry other than given")
    if not killed and not added:
        raise Failure("completed import is missing")
    return killed


def concurrent_point(binary, db, point, rnd, committed, d_edit):
    """Two writers at once: an `edit --add-tag` killed at a random time and an
    `add` left to finish, which must succeed (exit 0, its entry there once);
    the edit is applied wholly or not at all."""
    eid = rnd.choice(sorted(committed))
    old = committed[eid]
    tag = "c%d" % point
    title = "concurrent %d" % point
    adder = start(binary, db, ["add", "--title", title, "--type", "bug", "--content", "c %d" % point])
    editor = start(binary, db, ["edit", eid, "--add-tag", tag])
    killed = kill_after(editor, rnd.uniform(0, d_edit * 1.2))
    if not killed and editor.wait() != 0:
        raise Failure("concurrent edit failed: %s" % editor.stderr.read())
    _, err = adder.communicate(timeout=120)
    if adder.returncode != 0:
        raise Failure("concurrent add failed next to a killed writer: %s" % err)
    after = snapshot(db)
    if sum(1 for e in after.values() if e["title"] == title) != 1:
        raise Failure("concurrent add is not there exactly once")
    edited = dict(old, tags=sorted(set(old["tags"]) | {tag}))
    if not (same(after[eid], old) or same(after[eid], edited)):
        raise Failure("half-written concurrent edit: %r" % after[eid])
    if not killed and not same(after[eid], edited):
        raise Failure("completed concurrent edit not applied")
    return killed


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=200)
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "rekall"))
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="rekall_crash_")
    db = os.path.join(work, "knowledge.db")
    stats = {"add": [0, 0], "edit": [0, 0], "delete": [0, 0], "import": [0, 0], "concurrent": [0, 0],
             "migrate": [0, 0], "rebuild": [0, 0], "vecbuild": [0, 0]}
    vec_src = os.path.join(work, "vecsrc.db")
    vec_db = os.path.join(work, "vecbuild.db")
    d_vec = None  # measured on first use
    vec_partial = []  # rows found in embeddings_vec after each kill mid-build
    print("crash harness: %d points, seed %d, work %s" % (args.points, args.seed, work), flush=True)

    r = run(args.bin, db, ["import", os.path.join(ROOT, "data", "sample.jsonl")])
    if r.returncode != 0:
        raise SystemExit("setup import failed: " + r.stderr)
    committed = snapshot(db)

    # Measure how long each kind of command takes, to spread kills over it.
    def timed(argv):
        t = time.perf_counter()
        r = run(args.bin, db, argv)
        if r.returncode != 0:
            raise SystemExit("calibration failed: %s %s" % (argv, r.stderr))
        return time.perf_counter() - t, r
    d_add, r = timed(["--json", "add", "--title", "calibration", "--type", "bug", "--content", "c", "--tag", "x"])
    cal_id = json.loads(r.stdout)["id"]
    d_edit, _ = timed(["edit", cal_id, "--content", "c2"])
    d_del, _ = timed(["delete", cal_id])
    committed = snapshot(db)
    versions = [v for v in ("rekall-v2.db", "rekall-v7.db", "rekall-v12.db")
                if os.path.exists(os.path.join(FIXTURES, v))]

    for point in range(args.points):
        op = rnd.choice(["add", "add", "edit", "edit", "delete", "import", "concurrent", "migrate", "rebuild",
                         "vecbuild"])
        if op == "migrate" and not versions:
            op = "add"
        try:
            if op == "add":
                title = "crash entry %d" % point
                new = {"title": title, "content": "content %d %s" % (point, "x" * rnd.randint(0, 2000)),
                       "type": rnd.choice(["bug", "pattern", "decision"]), "project": None, "confidence": 2,
                       "status": "active", "tags": sorted({"t%d" % rnd.randint(0, 5), "crash"})}
                argv = ["add", "--title", title, "--type", new["type"], "--content", new["content"]]
                for t in new["tags"]:
                    argv += ["--tag", t]
                killed = run_and_kill(args.bin, db, argv, rnd.uniform(0, d_add * 1.2))
                after = snapshot(db)
                added = [eid for eid, e in after.items() if eid not in committed]
                if len(added) > 1:
                    raise Failure("one add made %d entries" % len(added))
                if added and not same(after[added[0]], new):
                    raise Failure("half-written add: %r" % after[added[0]])
                if not killed and not added:
                    raise Failure("completed add is missing")
            elif op == "edit":
                eid = rnd.choice(sorted(committed))
                old = committed[eid]
                new = dict(old, title="edited %d" % point, content="edited content %d" % point,
                           tags=sorted({"edited", "p%d" % point}))
                argv = ["edit", eid, "--title", new["title"], "--content", new["content"], "--tags", ",".join(new["tags"])]
                killed = run_and_kill(args.bin, db, argv, rnd.uniform(0, d_edit * 1.2))
                after = snapshot(db)
                if eid not in after:
                    raise Failure("edited entry vanished")
                if not (same(after[eid], old) or same(after[eid], new)):
                    raise Failure("half-written edit: %r" % after[eid])
                if not killed and not same(after[eid], new):
                    raise Failure("completed edit not applied")
            elif op == "delete":
                eid = rnd.choice(sorted(committed))
                killed = run_and_kill(args.bin, db, ["delete", eid], rnd.uniform(0, d_del * 1.2))
                after = snapshot(db)
                if eid in after and not same(after[eid], committed[eid]):
                    raise Failure("half-deleted entry %s" % eid)
                if not killed and eid in after:
                    raise Failure("completed delete left the entry")
            elif op == "import":
                killed = import_point(args.bin, db, point, rnd, committed, d_add)
            elif op == "concurrent":
                killed = concurrent_point(args.bin, db, point, rnd, committed, d_edit)
            elif op == "migrate":
                src = os.path.join(FIXTURES, rnd.choice(versions))
                mdb = os.path.join(work, "migrate.db")
                for f in os.listdir(work):
                    if f.startswith("migrate.db"):
                        os.remove(os.path.join(work, f))
                shutil.copy(src, mdb)
                before = snapshot(mdb)
                t = time.perf_counter()
                killed = run_and_kill(args.bin, mdb, ["migrate"], rnd.uniform(0, 0.08))
                after = snapshot(mdb)
                if set(after) != set(before) or any(not same(after[k], before[k]) for k in before):
                    raise Failure("migration changed entries")
                r = run(args.bin, mdb, ["migrate"])  # the next start completes it
                if r.returncode != 0:
                    raise Failure("migrate after kill failed: " + r.stderr)
                check_doctor(args.bin, mdb)
                stats[op][0 if killed else 1] += 1
                continue
            elif op == "vecbuild":
                # First open of a database whose embeddings_vec must be built
                # (VEC_ROWS rows, several committed batches), killed at a random
                # time, sometimes twice (a resumed build killed again).
                if d_vec is None:
                    make_vecbuild_source(args.bin, vec_src, rnd)
                    shutil.copy(vec_src, vec_db)
                    t = time.perf_counter()
                    r = run(args.bin, vec_db, ["index", "status"])
                    d_vec = time.perf_counter() - t
                    if r.returncode != 0:
                        raise SystemExit("vecbuild calibration failed: " + r.stderr)
                    st, n, d, stray = vec_state(vec_db)
                    if st is None or st.startswith("building") or n != VEC_ROWS or d != n or stray:
                        raise SystemExit("vecbuild calibration: state %r, %d rows" % (st, n))
                    print("  vecbuild: %d rows built in %.2f s" % (VEC_ROWS, d_vec), flush=True)
                for f in os.listdir(work):
                    if f.startswith("vecbuild.db"):
                        os.remove(os.path.join(work, f))
                shutil.copy(vec_src, vec_db)
                before = snapshot(vec_db)
                killed = False
                for _ in range(rnd.choice([1, 1, 2])):
                    killed = run_and_kill(args.bin, vec_db, ["index", "status"], rnd.uniform(0, d_vec * 1.1)) or killed
                    st, n, d, stray = vec_state(vec_db)
                    if d != n:
                        raise Failure("embeddings_vec holds %d rows for %d ids" % (n, d))
                    if stray:
                        raise Failure("embeddings_vec holds %d ids of no source row" % stray)
                    if st is not None and not st.startswith("building") and n != VEC_ROWS:
                        raise Failure("embeddings_vec marked complete with %d of %d rows" % (n, VEC_ROWS))
                    if st is not None and st.startswith("building"):
                        vec_partial.append(n)
                after = snapshot(vec_db)
                if set(after) != set(before) or any(not same(after[k], before[k]) for k in before):
                    raise Failure("building the vector index changed entries")
                check_doctor(args.bin, vec_db)  # the next start resumes and completes the build
                st, n, d, stray = vec_state(vec_db)
                if st is None or st.startswith("building") or n != VEC_ROWS or d != n or stray:
                    raise Failure("after restart: embeddings_vec state %r, %d rows (%d distinct, %d stray) for %d"
                                  % (st, n, d, stray, VEC_ROWS))
                stats[op][0 if killed else 1] += 1
                continue
            else:  # rebuild: entries without embeddings, then a killed `index rebuild`
                lines = "".join(json.dumps({"title": "rebuild %d %d" % (point, i), "type": "pattern",
                                            "content": "to embed %d" % i}) + "\n" for i in range(20))
                r = run(args.bin, db, ["import", "--no-embed", "-"], stdin=lines)
                if r.returncode != 0:
                    raise Failure("import failed: " + r.stderr)
                committed = snapshot(db)
                killed = run_and_kill(args.bin, db, ["index", "rebuild"], rnd.uniform(0, 0.5))
                after = snapshot(db)
                if set(after) != set(committed) or any(not same(after[k], committed[k]) for k in committed):
                    raise Failure("index rebuild changed entries")
            stats[op][0 if killed else 1] += 1
            check_doctor(args.bin, db)
            committed = snapshot(db)
        except Failure as f:
            print("FAIL at point %d (%s): %s\nseed %d, work folder kept: %s" % (point, op, f, args.seed, work))
            sys.exit(1)
        if (point + 1) % 20 == 0:
            print("  %d points checked" % (point + 1), flush=True)

    killed = sum(v[0] for v in stats.values())
    print("crash harness: %d points, %d killed mid-command, %d completed before the kill; all checks passed"
          % (args.points, killed, args.points - killed))
    for op, (k, c) in stats.items():
        print("  %-8s killed %3d  completed %3d" % (op, k, c))
    if vec_partial:
        print("  vecbuild: killed mid-build %d times, partial tables of %s rows resumed"
              % (len(vec_partial), sorted(set(vec_partial))))
    print("%d passed, 0 failed" % args.points)
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
