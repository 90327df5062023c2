#!/usr/bin/env python3
"""Stress harness: every kind of writer on one database at once.

People run rekall next to an agent that writes through MCP, a CLI in another
terminal, and Rekall itself, all on the same file. For --seconds, this runs:
  - --writers CLI writer threads, each running `rekall` processes one after
    another: add, `edit --add-tag` on entries every writer shares, `edit
    --add-tag` and delete on entries it added itself;
  - one `rekall serve` over raw JSON-RPC on its pipes: rekall_add,
    rekall_update (content of the shared entries), rekall_delete of its own
    entries, and searches (keyword, semantic, hybrid);
  - a Python sqlite3 writer standing in for Rekall: inserts entries the way
    Rekall does (every column of Rekall's `entries` table, read from the
    schema in src/store/rekall_schema_v12.cc; tags; a summary embedding),
    with Python's default busy timeout.
Afterwards, with Python's own sqlite3 and `rekall doctor`, it checks:
  - every acknowledged add is there exactly once (by id, and by its unique
    title), every acknowledged delete is gone;
  - every tag whose `edit --add-tag` was acknowledged is on its entry (a
    lost update otherwise), and each shared entry's content is the last one
    the server acknowledged;
  - PRAGMA integrity_check is ok and `rekall doctor --json` is healthy;
  - no operation failed.
Prints a summary (and --json-out FILE writes it) and exits 1 on any failure.

    bench/stress/stress.py --bin build/rekall --seconds 60 --writers 3
    bench/stress/stress.py --bin build/rekall --seconds 10 --writers 2    # CI's reduced run

Stdlib only. The rekall binary finds its model and sqlite-vec where it was
built to (the defaults compiled into it).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import re
import selectors
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_SOURCE = ROOT / "src" / "store" / "rekall_schema_v12.cc"
SHARED_ENTRIES = 4
TAGS_KEPT = 8  # per writer and entry: a shared entry holds at most writers x 8 + 1 tags (store limit: 50)
CLI_TIMEOUT_S = 120.0   # a hang becomes a failure, not a stuck harness
MCP_TIMEOUT_S = 120.0
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class Ledger:
    """What each writer was told succeeded, and what failed; thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.added: dict[str, tuple[str, str]] = {}     # id -> (source, unique title)
        self.failed_titles: set[str] = set()            # adds that reported failure
        self.deleted: set[str] = set()
        self.tags: dict[str, set[str]] = collections.defaultdict(set)  # acknowledged --add-tag
        self.content: dict[str, str] = {}               # shared id -> last acknowledged content
        self.ops: collections.Counter[str] = collections.Counter()
        self.failures: list[tuple[str, str, str]] = []  # (source, op, message)

    def ok(self, source: str, op: str) -> None:
        with self.lock:
            self.ops[f"{source}:{op}"] += 1

    def fail(self, source: str, op: str, message: str) -> None:
        with self.lock:
            self.ops[f"{source}:{op}:failed"] += 1
            self.failures.append((source, op, message.strip()[:300]))


def rekall_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKALL_")}
    env["HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / "xdg-config")
    env["XDG_DATA_HOME"] = str(home / "xdg-data")
    return env


class Kb:
    def __init__(self, binary: str, folder: Path) -> None:
        self.bin = binary
        self.folder = folder
        self.db = str(folder / "knowledge.db")
        self.config = str(folder / "config.toml")
        Path(self.config).write_text("")
        self.env = rekall_env(folder)

    def argv(self, *more: str) -> list[str]:
        return [self.bin, "--db", self.db, "--config", self.config, "--quiet", *more]

    def run(self, *more: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*more), capture_output=True, text=True, env=self.env,
                              stdin=subprocess.DEVNULL, timeout=CLI_TIMEOUT_S)

    def timed(self, *more: str) -> tuple[subprocess.CompletedProcess, float]:
        start = time.monotonic()
        p = self.run(*more)
        return p, time.monotonic() - start


def error_text(p: subprocess.CompletedProcess) -> str:
    return f"exit {p.returncode}: {(p.stderr or p.stdout).strip()}"


def timed_error(p: subprocess.CompletedProcess, seconds: float) -> str:
    return f"{error_text(p)} [after {seconds:.2f} s]"


# ------------------------------------------------------------- CLI writers

class CliWriter(threading.Thread):
    def __init__(self, n: int, kb: Kb, ledger: Ledger, shared: list[str], deadline: float, seed: int) -> None:
        super().__init__(name=f"cli{n}", daemon=True)
        self.n, self.kb, self.ledger, self.shared, self.deadline = n, kb, ledger, shared, deadline
        self.rng = random.Random(seed)
        self.own: list[str] = []
        self.count = 0
        # The tags this writer added to each entry, oldest first: past
        # TAGS_KEPT it removes its oldest with the next add, so no entry
        # reaches the store's limit of 50 tags however long the run.
        self.mine: dict[str, list[str]] = collections.defaultdict(list)

    def run(self) -> None:
        while time.monotonic() < self.deadline:
            self.count += 1
            roll = self.rng.random()
            try:
                if roll < 0.35 or not self.own:
                    self.add()
                elif roll < 0.70:
                    self.add_tag(self.rng.choice(self.shared), "shared")
                elif roll < 0.85:
                    self.add_tag(self.rng.choice(self.own), "own")
                else:
                    self.delete()
            except subprocess.TimeoutExpired as e:
                self.ledger.fail("cli", "timeout", f"{e.cmd[5:]} took over {CLI_TIMEOUT_S}s")

    def add(self) -> None:
        title = f"cli{self.n} entry {self.count} {self.rng.choice(WORDS)} {self.rng.choice(WORDS)}"
        p, took = self.kb.timed("--json", "add", "--type", self.rng.choice(TYPES), "--title", title,
                                "--content", sentence(self.rng), "--tag", f"from-cli{self.n}")
        if p.returncode != 0:
            with self.ledger.lock:
                self.ledger.failed_titles.add(title)
            return self.ledger.fail("cli", "add", timed_error(p, took))
        entry_id = json.loads(p.stdout)["id"]
        with self.ledger.lock:
            self.ledger.added[entry_id] = ("cli", title)
        self.own.append(entry_id)
        self.ledger.ok("cli", "add")

    def add_tag(self, entry_id: str, which: str) -> None:
        tag = f"c{self.n}-{self.count}"
        mine = self.mine[entry_id]
        old = mine[0] if len(mine) >= TAGS_KEPT else None
        args = ["edit", entry_id, "--add-tag", tag] + (["--remove-tag", old] if old else [])
        p, took = self.kb.timed(*args)
        if p.returncode != 0:
            return self.ledger.fail("cli", f"edit-{which}", timed_error(p, took))
        mine.append(tag)
        with self.ledger.lock:
            self.ledger.tags[entry_id].add(tag)
            if old:
                mine.pop(0)
                self.ledger.tags[entry_id].discard(old)
        self.ledger.ok("cli", f"edit-{which}")

    def delete(self) -> None:
        entry_id = self.own.pop(self.rng.randrange(len(self.own)))
        p, took = self.kb.timed("delete", entry_id)
        if p.returncode != 0:
            return self.ledger.fail("cli", "delete", timed_error(p, took))
        with self.ledger.lock:
            self.ledger.deleted.add(entry_id)
        self.ledger.ok("cli", "delete")


# ------------------------------------------------------------------ server

class ServerDriver(threading.Thread):
    """One `rekall serve`, one request at a time over its pipes."""

    def __init__(self, kb: Kb, ledger: Ledger, shared: list[str], deadline: float, seed: int) -> None:
        super().__init__(name="server", daemon=True)
        self.kb, self.ledger, self.shared, self.deadline = kb, ledger, shared, deadline
        self.rng = random.Random(seed)
        self.own: list[str] = []
        self.next_id = 0
        self.buf = b""
        self.proc = subprocess.Popen(kb.argv("serve"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=kb.env)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.stderr_lines: list[str] = []
        self.stderr_thread = threading.Thread(target=self.drain_stderr, daemon=True)
        self.stderr_thread.start()
        self.exit_code: int | None = None

    def drain_stderr(self) -> None:
        for line in self.proc.stderr:
            self.stderr_lines.append(line.decode(errors="replace").rstrip())

    def send(self, message: dict[str, Any]) -> None:
        self.proc.stdin.write(json.dumps({"jsonrpc": "2.0", **message}).encode() + b"\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        deadline = time.monotonic() + MCP_TIMEOUT_S
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not self.sel.select(left):
                raise TimeoutError("no answer from rekall serve")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise EOFError("rekall serve closed its output")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def request(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        response = self.read()
        if response.get("id") != self.next_id:
            raise RuntimeError(f"answer to {response.get('id')} while waiting for {self.next_id}")
        return response

    def tool(self, op: str, name: str, args: dict[str, Any]) -> dict[str, Any] | None:
        """The structured result, or None after recording the failure."""
        response = self.request("tools/call", {"name": name, "arguments": args})
        if "error" in response:
            self.ledger.fail("server", op, json.dumps(response["error"]))
            return None
        result = response["result"]
        if result.get("isError"):
            self.ledger.fail("server", op, result["content"][0]["text"])
            return None
        self.ledger.ok("server", op)
        return result.get("structuredContent", {})

    def run(self) -> None:
        try:
            self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                        "clientInfo": {"name": "stress", "version": "1"}})
            self.send({"method": "notifications/initialized"})
            n = 0
            while time.monotonic() < self.deadline:
                n += 1
                self.step(n)
        except Exception as e:  # a dead or stuck server: one failure, and stop
            self.ledger.fail("server", "session", f"{type(e).__name__}: {e}")
        finally:
            self.close()

    def step(self, n: int) -> None:
        roll = self.rng.random()
        if roll < 0.25 or not self.own:
            title = f"server entry {n} {self.rng.choice(WORDS)} {self.rng.choice(WORDS)}"
            r = self.tool("add", "rekall_add", {"type": self.rng.choice(TYPES), "title": title,
                                                 "content": sentence(self.rng), "tags": ["from-server"]})
            with self.ledger.lock:
                if r is None:
                    self.ledger.failed_titles.add(title)
                else:
                    self.ledger.added[r["id"]] = ("server", title)
            if r is not None:
                self.own.append(r["id"])
        elif roll < 0.50:
            entry_id = self.rng.choice(self.shared)
            content = f"server revision {n} of the shared entry: {sentence(self.rng)}"
            if self.tool("update", "rekall_update", {"id": entry_id, "content": content}) is not None:
                with self.ledger.lock:
                    self.ledger.content[entry_id] = content
        elif roll < 0.60:
            entry_id = self.own.pop(self.rng.randrange(len(self.own)))
            if self.tool("delete", "rekall_delete", {"id": entry_id, "confirm": True}) is not None:
                with self.ledger.lock:
                    self.ledger.deleted.add(entry_id)
        else:
            mode = self.rng.choice(["keyword", "semantic", "hybrid"])
            self.tool(f"search-{mode}", "rekall_search",
                      {"query": f"{self.rng.choice(WORDS)} {self.rng.choice(WORDS)}", "mode": mode, "limit": 5})

    def close(self) -> None:
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.exit_code = self.proc.wait(timeout=MCP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.exit_code = self.proc.wait()
            self.ledger.fail("server", "shutdown", "rekall serve did not exit after EOF")
        self.stderr_thread.join(timeout=10)
        if self.exit_code != 0:
            self.ledger.fail("server", "shutdown", f"rekall serve exited with {self.exit_code}")


# ------------------------------------------------------- Rekall stand-in

def rekall_entry_columns() -> list[tuple[str, str | None]]:
    """(name, default SQL) of every column of Rekall's entries table, from
    the schema we create databases with (Rekall's own DDL)."""
    source = SCHEMA_SOURCE.read_text()
    ddl = source[source.index('R"SQL(') + 6:source.index(')SQL"')]
    con = sqlite3.connect(":memory:")
    con.executescript(ddl)
    return [(row[1], row[4]) for row in con.execute("PRAGMA table_info(entries)")]


def new_ulid(rng: random.Random) -> str:
    t = int(time.time() * 1000)
    chars = []
    for _ in range(10):
        chars.append(CROCKFORD[t % 32])
        t //= 32
    return "".join(reversed(chars)) + "".join(rng.choice(CROCKFORD) for _ in range(16))


class RekallStandIn(threading.Thread):
    """Writes as Rekall does: Python's sqlite3 with its default 5 s busy
    timeout, an implicit transaction per entry, ISO timestamps, a float32
    summary vector under the model name Rekall writes."""

    def __init__(self, kb: Kb, ledger: Ledger, deadline: float, seed: int) -> None:
        super().__init__(name="rekall", daemon=True)
        self.kb, self.ledger, self.deadline = kb, ledger, deadline
        self.rng = random.Random(seed)
        self.columns = rekall_entry_columns()

    def run(self) -> None:
        con = sqlite3.connect(self.kb.db)  # timeout=5.0, as Rekall opens it
        con.execute("PRAGMA foreign_keys = ON")
        n = 0
        while time.monotonic() < self.deadline:
            n += 1
            title = f"rekall entry {n} {self.rng.choice(WORDS)} {self.rng.choice(WORDS)}"
            entry_id = new_ulid(self.rng)
            try:
                self.insert(con, entry_id, title)
            except sqlite3.Error as e:
                con.rollback()
                with self.ledger.lock:
                    self.ledger.failed_titles.add(title)
                self.ledger.fail("rekall", "insert", f"{type(e).__name__}: {e}")
            else:
                with self.ledger.lock:
                    self.ledger.added[entry_id] = ("rekall", title)
                self.ledger.ok("rekall", "insert")
            time.sleep(self.rng.uniform(0.01, 0.05))
        con.close()

    def insert(self, con: sqlite3.Connection, entry_id: str, title: str) -> None:
        now = datetime.now().isoformat()
        given = {"id": entry_id, "title": title, "content": sentence(self.rng), "type": self.rng.choice(TYPES),
                 "project": "stress", "confidence": 2, "status": "active", "superseded_by": None,
                 "created_at": now, "updated_at": now}
        # Rekall names every column; the ones it has no value for get the
        # schema's default (memory_type 'episodic', access_count 0, ...).
        names, values = [], []
        for name, default in self.columns:
            names.append(name)
            if name in given:
                values.append(given[name])
            else:
                values.append(None if default is None else con.execute(f"SELECT {default}").fetchone()[0])
        vec = [self.rng.gauss(0, 1) for _ in range(384)]
        norm = sum(x * x for x in vec) ** 0.5
        with con:  # one implicit transaction, committed on success
            con.execute(f"INSERT INTO entries({','.join(names)}) VALUES({','.join('?' * len(names))})", values)
            tags = sorted({"from-rekall", self.rng.choice(WORDS)})
            con.executemany("INSERT INTO tags(entry_id, tag) VALUES(?, ?)", [(entry_id, t) for t in tags])
            # Rekall's insert trigger indexes the entry before its tags
            # exist; Rekall then puts the tags into the keyword index.
            con.execute("UPDATE entries_fts SET tags = ? WHERE id = ?", (" ".join(tags), entry_id))
            con.execute("INSERT INTO embeddings(id, entry_id, embedding_type, vector, dimensions, model_name, "
                        "created_at) VALUES(?, ?, 'summary', ?, 384, 'sentence-transformers/all-MiniLM-L6-v2', ?)",
                        (new_ulid(self.rng), entry_id, struct.pack("<384f", *(x / norm for x in vec)), now))


# ------------------------------------------------------------------ checks

def check(kb: Kb, ledger: Ledger, shared: list[str]) -> list[str]:
    problems = []
    con = sqlite3.connect(kb.db)
    integrity = con.execute("PRAGMA integrity_check").fetchall()
    if integrity != [("ok",)]:
        problems.append(f"integrity_check: {integrity[:5]}")
    rows = con.execute("SELECT id, title, content FROM entries").fetchall()
    by_id = {r[0]: r for r in rows}
    titles = collections.Counter(r[1] for r in rows)
    tags: dict[str, set[str]] = collections.defaultdict(set)
    for entry_id, tag in con.execute("SELECT entry_id, tag FROM tags"):
        tags[entry_id].add(tag)
    con.close()

    for entry_id, (source, title) in ledger.added.items():
        if entry_id in ledger.deleted:
            if entry_id in by_id:
                problems.append(f"{source} entry {entry_id}: deleted (acknowledged) but still there")
        elif entry_id not in by_id:
            problems.append(f"{source} entry {entry_id} ({title!r}): acknowledged but missing")
        elif titles[title] != 1:
            problems.append(f"{source} entry {entry_id} ({title!r}): stored {titles[title]} times")
    for title in ledger.failed_titles:
        if titles[title]:
            problems.append(f"add of {title!r} reported failure but was stored")
    for entry_id, want in ledger.tags.items():
        if entry_id in ledger.deleted:
            continue
        lost = sorted(want - tags.get(entry_id, set()))
        if lost:
            problems.append(f"entry {entry_id}: {len(lost)} acknowledged tag(s) lost: {', '.join(lost[:8])}")
    for entry_id in shared:
        if entry_id not in by_id:
            problems.append(f"shared entry {entry_id} (never deleted) is missing")
    for entry_id, content in ledger.content.items():
        if entry_id in by_id and by_id[entry_id][2] != content:
            problems.append(f"shared entry {entry_id}: the server's last acknowledged content was lost")

    p = kb.run("--json", "doctor")
    try:
        doctor = json.loads(p.stdout)
    except json.JSONDecodeError:
        problems.append(f"doctor: {error_text(p)}")
    else:
        bad = [f for f in doctor["findings"] if f["severity"] not in ("ok", "info")]
        if p.returncode != 0 or not doctor.get("healthy") or bad:
            problems.append(f"doctor (exit {p.returncode}): {bad}")
    return problems


# ------------------------------------------------------------------- setup

TYPES = ["bug", "pattern", "decision", "pitfall", "config", "reference"]
WORDS = ["nginx", "timeout", "postgres", "deadlock", "cache", "retry", "kafka", "lag", "docker", "build",
         "memory", "leak", "tls", "certificate", "dns", "latency", "index", "migration", "queue", "worker"]


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14))) + "."


def setup(kb: Kb, rng: random.Random) -> list[str]:
    """A database with a few entries (embedded by the real model); returns
    the ids of the entries every writer shares."""
    seed = [{"title": f"shared entry {i} {rng.choice(WORDS)}", "type": "pattern", "content": sentence(rng),
             "tags": ["shared"]} for i in range(SHARED_ENTRIES)]
    seed += [{"title": f"seed entry {i} {rng.choice(WORDS)}", "type": rng.choice(TYPES), "content": sentence(rng)}
             for i in range(20)]
    path = kb.folder / "seed.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in seed))
    p = kb.run("import", str(path))
    if p.returncode != 0:
        sys.exit(f"stress: setting up the database failed: {error_text(p)}")
    con = sqlite3.connect(kb.db)
    shared = [r[0] for r in con.execute("SELECT id FROM entries WHERE title LIKE 'shared entry %' ORDER BY id")]
    con.close()
    return shared


def summarize(args: argparse.Namespace, ledger: Ledger, problems: list[str], elapsed: float,
              server: ServerDriver | None) -> dict[str, Any]:
    kinds = collections.Counter()
    for _, _, message in ledger.failures:
        m = re.sub(r"\b[0-9A-HJKMNP-TV-Z]{26}\b", "<id>", message)
        kinds[re.sub(r"\d+(\.\d+)?", "N", m)[:160]] += 1
    return {
        "seconds": round(elapsed, 1), "writers": args.writers, "backend": args.backend or "default",
        "without": args.without,
        "operations": dict(sorted(ledger.ops.items())),
        "acknowledged_adds": len(ledger.added), "acknowledged_deletes": len(ledger.deleted),
        "acknowledged_tags": sum(len(t) for t in ledger.tags.values()),
        "failures": len(ledger.failures),
        "failure_kinds": dict(kinds.most_common()),
        "failure_samples": [f"{src} {op}: {m}" for src, op, m in ledger.failures[:8]],
        "check_problems": problems,
        "server_exit": server.exit_code if server else None,
        "server_log_tail": server.stderr_lines[-10:] if server and (problems or ledger.failures) else [],
        "ok": not problems and not ledger.failures,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(ROOT / "build" / "rekall"))
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--writers", type=int, default=3, help="CLI writer processes running at once")
    ap.add_argument("--backend", choices=["auto", "sqlite-vec", "brute"],
                    help="vector_backend for every rekall process (default: the config's default)")
    ap.add_argument("--without", action="append", default=[], choices=["server", "rekall"],
                    help="leave this writer out (to find which mix fails); repeatable")
    ap.add_argument("--seed", type=int, default=20261129)
    ap.add_argument("--keep", action="store_true", help="keep the database folder")
    ap.add_argument("--json-out", help="also write the summary to this file")
    args = ap.parse_args()
    if args.writers < 1 or args.seconds <= 0:
        ap.error("--writers and --seconds must be positive")

    folder = Path(tempfile.mkdtemp(prefix="rekall-stress-"))
    rng = random.Random(args.seed)
    kb = Kb(args.bin, folder)
    if args.backend:
        Path(kb.config).write_text(f'[performance]\nvector_backend = "{args.backend}"\n')
    ledger = Ledger()
    shared = setup(kb, rng)

    start = time.monotonic()
    deadline = start + args.seconds
    threads: list[threading.Thread] = []
    server = None
    if "server" not in args.without:
        server = ServerDriver(kb, ledger, shared, deadline, rng.randrange(1 << 30))
        threads.append(server)
    if "rekall" not in args.without:
        threads.append(RekallStandIn(kb, ledger, deadline, rng.randrange(1 << 30)))
    threads += [CliWriter(i, kb, ledger, shared, deadline, rng.randrange(1 << 30)) for i in range(args.writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start

    problems = check(kb, ledger, shared)
    summary = summarize(args, ledger, problems, elapsed, server)
    print(json.dumps(summary, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2) + "\n")
    print(("stress: OK" if summary["ok"] else
           f"stress: FAILED ({len(ledger.failures)} failed operations, {len(problems)} check problems)")
          + f"; database in {folder}" * args.keep)
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
