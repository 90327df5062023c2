#!/usr/bin/env python3
"""Soak benchmark of `rekall serve`: one MCP session, many mixed requests.

    python3 bench/soak/soak.py --bin build/rekall                  # 10,000 requests on 10,000 entries
    python3 bench/soak/soak.py --bin build/rekall --requests 300 --entries 500   # CI, < 1 min

What it does:
  1. Generates N synthetic but varied entries (seeded: same N, same entries)
     and imports them with `rekall import` (the real model embeds them). The
     database is cached as build/soak-cache/kb-<N>-v<VERSION>.db and reused;
     each run works on a copy of it, so runs do not drift.
  2. Starts `rekall serve` on the copy and speaks raw JSON-RPC over its pipes,
     one request at a time, so every latency is the server's answer time plus
     a pipe round trip (no SDK overhead in the figures).
  3. Sends the requests: searches (semantic, hybrid, keyword; fresh and
     repeated queries, some with filters), show, similar, add, update, info.
  4. Samples the server's VmRSS from /proc/PID/status every --sample-every
     requests, and VmHWM (peak) at the end; then lets the model go idle
     (REKALL_MODEL_IDLE_TIMEOUT_SECONDS) and reads the idle RSS with the model
     unloaded.
  5. Prints p50/p95/p99 per tool, RSS over time and the targets; --results
     writes the same as Markdown (bench/soak/RESULTS.md).

Targets (the issue): idle RSS with the model unloaded < 20 MB, peak RSS
< 120 MB, search p50 < 10 ms at 10K entries. The exit code is 0 whatever the
figures (it is a measurement); --check makes a missed target exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

VERSION = 1  # bump when the generator changes: invalidates cached databases
ROOT = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------ entries

TECH = ["nginx", "postgres", "redis", "kafka", "react", "vue", "django", "flask", "fastapi", "spring", "kubernetes",
        "docker", "terraform", "ansible", "grpc", "graphql", "webpack", "vite", "rust", "golang", "python", "node",
        "typescript", "sqlite", "mysql", "mongodb", "elasticsearch", "rabbitmq", "celery", "airflow", "pandas",
        "numpy", "pytorch", "cuda", "llvm", "cmake", "bazel", "gradle", "maven", "jenkins", "github actions",
        "gitlab ci", "prometheus", "grafana", "opentelemetry", "envoy", "istio", "consul", "vault", "s3", "lambda",
        "cloudfront", "oauth", "jwt", "websocket", "http2", "tls", "dns", "systemd", "bash", "zsh", "tmux", "vim"]
PROBLEMS = [
    ("timeout", "requests time out under load", "raise the timeout and add a circuit breaker"),
    ("memory leak", "memory grows until the process is killed", "release the listener and cap the cache"),
    ("deadlock", "two workers wait on each other's lock", "take the locks in one global order"),
    ("race condition", "a value is read before the writer finished", "publish it with a release store"),
    ("connection pool exhausted", "too many clients are connected", "share one pool per process"),
    ("slow query", "a query scans the whole table", "add a composite index on the filter columns"),
    ("cache stampede", "every client recomputes the value at expiry", "use early recomputation with jitter"),
    ("certificate expired", "the handshake fails with an expired certificate", "automate renewal and alert early"),
    ("off by one", "the last element is skipped", "iterate up to and including the end index"),
    ("encoding error", "non-ASCII input turns into mojibake", "decode as UTF-8 at the boundary"),
    ("flaky test", "a test fails one run in fifty", "wait on the condition instead of sleeping"),
    ("build cache miss", "every CI build recompiles everything", "pin the toolchain and key the cache on it"),
    ("permission denied", "the service cannot write its state folder", "create it with the service user"),
    ("port already in use", "the server cannot bind after a restart", "set SO_REUSEADDR before bind"),
    ("OOM killed", "the container is killed at its memory limit", "stream the input instead of loading it"),
    ("clock skew", "tokens are rejected as not yet valid", "allow a small leeway and sync with NTP"),
    ("N+1 queries", "a page issues one query per row", "fetch the relation in one joined query"),
    ("retry storm", "retries multiply the load on a failing service", "retry with exponential backoff and a budget"),
    ("stale read", "a replica returns old data after a write", "read your writes from the primary"),
    ("config drift", "production differs from what the repo says", "apply the config from one source of truth"),
]
TYPES = ["bug", "pattern", "decision", "pitfall", "config", "reference"]
PROJECTS = ["api", "web", "infra", "data", "mobile", "billing", "search", "auth", None]
EXTRA_WORDS = ["staging", "production", "local", "weekend", "migration", "upgrade", "rollout", "incident",
               "postmortem", "refactor", "benchmark", "review", "spike", "hotfix", "release"]


def make_entry(rng: random.Random, i: int) -> dict[str, Any]:
    tech = rng.choice(TECH)
    tech2 = rng.choice(TECH)
    name, symptom, fix = rng.choice(PROBLEMS)
    kind = rng.choice(TYPES)
    where = rng.choice(EXTRA_WORDS)
    title = {
        "bug": f"{tech} {name} in {where}",
        "pattern": f"Pattern: avoid {name} with {tech}",
        "decision": f"Decided to use {tech} over {tech2} for {where}",
        "pitfall": f"{tech} pitfall: {name} when talking to {tech2}",
        "config": f"Configure {tech} to prevent {name}",
        "reference": f"{tech} notes on {name} ({where})",
    }[kind] + f" #{i}"
    content = (f"During the {where}, {symptom} in the {tech} service that calls {tech2}. "
               f"Root cause: {name}. Fix: {fix}. "
               f"Checked with a {rng.choice(EXTRA_WORDS)} run; see ticket {rng.randint(100, 9999)}.")
    if rng.random() < 0.3:
        content += "\n\n" + " ".join(rng.choice(TECH + EXTRA_WORDS) for _ in range(rng.randint(20, 120)))
    e: dict[str, Any] = {"title": title, "type": kind, "content": content,
                         "confidence": rng.randint(0, 5), "tags": sorted({tech, name.split()[0], where})}
    project = rng.choice(PROJECTS)
    if project:
        e["project"] = project
    return e


def make_query(rng: random.Random) -> str:
    tech = rng.choice(TECH)
    name, symptom, fix = rng.choice(PROBLEMS)
    return rng.choice([
        f"{tech} {name}",
        f"why does {tech} {symptom.split(' ', 1)[1] if ' ' in symptom else symptom}",
        f"how to {fix.split(' and ')[0]}",
        f"{symptom} with {tech}",
        f"{name} {rng.choice(EXTRA_WORDS)}",
    ])


# ------------------------------------------------------------------ database


def build_db(rekall: str, entries: int, cache_dir: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    db = cache_dir / f"kb-{entries}-v{VERSION}.db"
    if db.exists():
        print(f"using cached database {db}", file=sys.stderr)
        return db
    rng = random.Random(1000 + entries)
    jsonl = cache_dir / f"kb-{entries}-v{VERSION}.jsonl"
    with open(jsonl, "w") as f:
        for i in range(entries):
            f.write(json.dumps(make_entry(rng, i)) + "\n")
    tmp = cache_dir / (db.name + ".building")
    for p in (tmp, Path(str(tmp) + "-wal"), Path(str(tmp) + "-shm")):
        p.unlink(missing_ok=True)
    print(f"importing {entries} entries into {db} (embeds each with the model: minutes at 10K)...", file=sys.stderr)
    t0 = time.monotonic()
    env = clean_env()
    subprocess.run([rekall, "--db", str(tmp), "--config", "/dev/null", "import", str(jsonl)], check=True, env=env,
                   stdin=subprocess.DEVNULL)
    # Checkpoint the WAL into the file so one file is the whole database.
    subprocess.run([rekall, "--db", str(tmp), "--config", "/dev/null", "stats"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    os.replace(tmp, db)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp) + suffix).unlink(missing_ok=True)
    print(f"imported in {time.monotonic() - t0:.0f} s", file=sys.stderr)
    return db


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("REKALL_")}


# ------------------------------------------------------------------ server


class Server:
    def __init__(self, rekall: str, db: Path, config: Path, idle_s: int, backend: str = "") -> None:
        env = clean_env()
        env["REKALL_MODEL_IDLE_TIMEOUT_SECONDS"] = str(idle_s)
        self.stderr = tempfile.TemporaryFile()
        extra = ["--backend", backend] if backend else []
        self.proc = subprocess.Popen([rekall, "--db", str(db), "--config", str(config), *extra, "serve"], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""
        self.next_id = 0

    def request(self, method: str, params: dict[str, Any] | None = None, timeout: float = 300) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"jsonrpc": "2.0", "id": self.next_id, "method": method}
        if params is not None:
            msg["params"] = params
        self.proc.stdin.write(json.dumps(msg).encode() + b"\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            while b"\n" not in self.buf:
                left = deadline - time.monotonic()
                if left <= 0 or not self.sel.select(left):
                    raise RuntimeError(f"no answer to {method} within {timeout} s")
                chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
                if not chunk:
                    raise RuntimeError("the server closed its output")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            resp = json.loads(line)
            if resp.get("id") == self.next_id:
                return resp

    def call(self, tool: str, args: dict[str, Any]) -> dict[str, Any]:
        resp = self.request("tools/call", {"name": tool, "arguments": args})
        if "error" in resp:
            raise RuntimeError(f"{tool}: {resp['error']}")
        return resp["result"]

    def status_kb(self, key: str) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def close(self) -> str:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")


# ------------------------------------------------------------------ soak


def percentile(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    k = (len(xs) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


MIX = [  # (kind, weight)
    ("search_semantic", 30), ("search_hybrid", 12), ("search_keyword", 13), ("show", 15), ("similar", 10),
    ("add", 7), ("update", 8), ("info", 5),
]


def run(args: argparse.Namespace) -> dict[str, Any]:
    rekall = str(Path(args.bin).resolve())
    db_cached = Path(args.db) if args.db else build_db(rekall, args.entries, Path(args.cache_dir))
    work = Path(tempfile.mkdtemp(prefix="rekall-soak-"))
    try:
        db = work / "knowledge.db"
        shutil.copy(db_cached, db)
        config = work / "config.toml"
        config.write_text("")
        srv = Server(rekall, db, config, args.idle_seconds, args.backend)
        t_start = time.monotonic()
        init = srv.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                          "clientInfo": {"name": "soak", "version": "1"}})
        t_init = (time.monotonic() - t_start) * 1000
        srv.proc.stdin.write(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
        srv.proc.stdin.flush()
        assert init["result"]["serverInfo"]["name"] == "rekall"
        rss_start = srv.status_kb("VmRSS")

        # Ids to show, update and find similar entries of.
        ids: list[str] = []
        listed = srv.call("rekall_search", {"query": "timeout", "mode": "keyword", "limit": 200})
        ids += [r["id"] for r in listed["structuredContent"]["results"]]
        rng = random.Random(args.seed)
        kinds = [k for k, _ in MIX]
        weights = [w for _, w in MIX]
        recent_queries: list[str] = []
        lat: dict[str, list[float]] = {k: [] for k in kinds}
        samples: list[tuple[int, int, str]] = []
        errors: list[str] = []
        sample_every = args.sample_every or max(1, args.requests // 50)
        warmup = max(1, args.requests * args.warmup_percent // 100)
        added = 0
        t0 = time.monotonic()
        for i in range(args.requests):
            kind = rng.choices(kinds, weights)[0]
            if kind.startswith("search"):
                mode = kind.split("_")[1]
                repeat = bool(recent_queries) and rng.random() < 0.2
                if repeat:
                    q = rng.choice(recent_queries)  # a repeat: the query cache answers
                else:
                    q = make_query(rng)
                    recent_queries = (recent_queries + [q])[-50:]
                a: dict[str, Any] = {"query": q, "mode": mode, "limit": rng.choice([5, 10, 10, 20])}
                if rng.random() < 0.15:
                    a["type"] = rng.choice(TYPES)
                if rng.random() < 0.1:
                    a["project"] = rng.choice([p for p in PROJECTS if p])
                tool = "rekall_search"
            elif kind == "show":
                tool, a = "rekall_show", {"id": rng.choice(ids)}
            elif kind == "similar":
                tool, a = "rekall_similar", {"entry_id": rng.choice(ids), "limit": rng.choice([3, 5, 10])}
            elif kind == "add":
                e = make_entry(rng, args.entries + added)
                added += 1
                tool, a = "rekall_add", e
            elif kind == "update":
                tool, a = "rekall_update", {"id": rng.choice(ids), "confidence": rng.randint(0, 5),
                                            "content": make_entry(rng, i)["content"]}
            else:
                tool, a = "rekall_info", {}
            t = time.perf_counter()
            res = srv.call(tool, a)
            ms = (time.perf_counter() - t) * 1000
            lat[kind].append(ms)
            if kind in ("search_semantic", "search_hybrid"):
                # Fresh queries pay for the query's embedding; repeats do not.
                lat.setdefault(f"{kind} (repeated query)" if repeat else f"{kind} (fresh query)", []).append(ms)
            if res.get("isError"):
                errors.append(f"{tool} {a}: {res['content'][0]['text']}")
            elif kind == "add":
                ids.append(res["structuredContent"]["id"])
            elif kind.startswith("search") and res["structuredContent"]["model_loading"]:
                errors.append(f"search answered while the model was loading (request {i})")
            if i % sample_every == 0 or i == args.requests - 1:
                samples.append((i + 1, srv.status_kb("VmRSS"), srv.call("rekall_info", {})["structuredContent"]
                                ["model_state"]))
        wall = time.monotonic() - t0
        peak = srv.status_kb("VmHWM")
        rss_end = srv.status_kb("VmRSS")

        # Idle: wait for the model and the in-memory index to be let go (two
        # timers on the same timeout: reading the RSS 0.5 s after the model
        # alone once caught the index still held, 38.5 MB), then read it.
        idle_rss = None
        deadline = time.monotonic() + args.idle_seconds + 60
        while time.monotonic() < deadline:
            time.sleep(max(0.5, args.idle_seconds / 4))
            st = srv.call("rekall_info", {})["structuredContent"]
            if st["model_state"] == "unloaded" and st.get("backend") in ("not loaded", "sqlite-vec"):
                time.sleep(0.5)
                idle_rss = srv.status_kb("VmRSS")
                break
        info = srv.call("rekall_info", {})["structuredContent"]
        stderr = srv.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    after_warmup = [rss for n, rss, _ in samples if n > warmup]
    return {
        "command": " ".join(["python3", "bench/soak/soak.py"] + sys.argv[1:]),
        "requests": args.requests, "entries": args.entries, "wall_s": wall, "init_ms": t_init,
        "latency": {k: v for k, v in lat.items()}, "samples": samples, "warmup": warmup,
        "rss_start_kb": rss_start, "rss_end_kb": rss_end, "peak_kb": peak, "idle_kb": idle_rss,
        "growth_after_warmup_kb": (after_warmup[-1] - after_warmup[0]) if len(after_warmup) > 1 else 0,
        "max_after_warmup_kb": max(after_warmup) if after_warmup else 0,
        "errors": errors, "info": info, "stderr_tail": stderr[-2000:], "cpus": os.cpu_count(),
        "load_avg": os.getloadavg(),
    }


def report(r: dict[str, Any]) -> tuple[str, bool]:
    mb = lambda kb: f"{kb / 1024:.1f} MB" if kb is not None else "n/a"
    lines = [f"Command: `{r['command']}`", "",
             f"{r['requests']} requests over one session on {r['entries']} entries "
             f"(+ the ones added during the run), {r['wall_s']:.1f} s wall, {r['cpus']} CPUs "
             f"(load average at the end {r['load_avg'][0]:.1f}: the machine was shared); "
             f"initialize answered in {r['init_ms']:.1f} ms; backend {r['info'].get('backend')}; "
             f"model loads {r['info'].get('model_loads')}.", "",
             "| request | count | p50 ms | p95 ms | p99 ms | max ms |", "|---|---:|---:|---:|---:|---:|"]
    all_search: list[float] = []
    for k, xs in r["latency"].items():
        if k.startswith("search") and "(" not in k:
            all_search += xs
        if xs:
            lines.append(f"| {k} | {len(xs)} | {percentile(xs, 50):.2f} | {percentile(xs, 95):.2f} | "
                         f"{percentile(xs, 99):.2f} | {max(xs):.2f} |")
    lines.append(f"| search (all modes) | {len(all_search)} | {percentile(all_search, 50):.2f} | "
                 f"{percentile(all_search, 95):.2f} | {percentile(all_search, 99):.2f} | "
                 f"{max(all_search) if all_search else float('nan'):.2f} |")
    lines += ["", "RSS over time (VmRSS after request n; model state):", "",
              "| after request | RSS | model |", "|---:|---:|---|"]
    step = max(1, len(r["samples"]) // 20)
    shown = r["samples"][::step]
    if r["samples"] and shown[-1] != r["samples"][-1]:
        shown.append(r["samples"][-1])
    for n, rss, state in shown:
        lines.append(f"| {n} | {mb(rss)} | {state} |")
    search_p50 = percentile(r["latency"]["search_semantic"], 50)
    checks = [
        ("idle RSS, model unloaded", r["idle_kb"] is not None and r["idle_kb"] < 20 * 1024, mb(r["idle_kb"]), "< 20 MB"),
        ("peak RSS (VmHWM)", r["peak_kb"] < 120 * 1024, mb(r["peak_kb"]), "< 120 MB"),
        ("semantic search p50", search_p50 < 10, f"{search_p50:.2f} ms", "< 10 ms"),
        ("RSS growth after warm-up", r["growth_after_warmup_kb"] < 8 * 1024, mb(r["growth_after_warmup_kb"]),
         "~0 (< 8 MB)"),
    ]
    lines += ["", f"RSS at start (after initialize): {mb(r['rss_start_kb'])}; at the end: {mb(r['rss_end_kb'])}; "
              f"max after warm-up (request {r['warmup']}): {mb(r['max_after_warmup_kb'])}.", "",
              "| target | measured | goal | met |", "|---|---:|---:|---|"]
    ok = True
    for name, met, got, goal in checks:
        ok &= met
        lines.append(f"| {name} | {got} | {goal} | {'yes' if met else 'NO'} |")
    lines += ["", f"Errors: {len(r['errors'])}"] + [f"- {e}" for e in r["errors"][:10]]
    return "\n".join(lines) + "\n", ok and not r["errors"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.environ.get("REKALL_BIN", str(ROOT / "build" / "rekall")),
                    help="the rekall binary (default: $REKALL_BIN, else build/rekall)")
    ap.add_argument("--requests", type=int, default=10000)
    ap.add_argument("--entries", type=int, default=10000)
    ap.add_argument("--cache-dir", default=str(ROOT / "build" / "soak-cache"),
                    help="where built databases are kept for reuse")
    ap.add_argument("--db", help="run on a copy of this store instead of the cached one (e.g. 50K entries from "
                    "bench/storage/make_store.py --texts soak; say its size with --entries)")
    ap.add_argument("--sample-every", type=int, default=0, help="RSS sample period in requests (default: n/50)")
    ap.add_argument("--idle-seconds", type=int, default=3,
                    help="model idle timeout of the server (REKALL_MODEL_IDLE_TIMEOUT_SECONDS)")
    ap.add_argument("--backend", default="", help="vector backend of the server (auto, sqlite-vec, brute; "
                    "default: the engine's)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--warmup-percent", type=int, default=20,
                    help="requests counted as warm-up (caches filling) before RSS growth is measured")
    ap.add_argument("--results", help="also write the report as Markdown to this file")
    ap.add_argument("--json", help="write the raw figures as JSON to this file")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed or a request failed")
    args = ap.parse_args()
    r = run(args)
    text, ok = report(r)
    print(text)
    if args.results:
        Path(args.results).write_text("# Soak benchmark of `rekall serve`\n\n" + text)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1))
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
