#!/usr/bin/env python3
"""Search quality of the `rekall` binary on a labelled retrieval set (BEIR
layout: corpus.jsonl, queries.jsonl, qrels/<split>.tsv): nDCG@10 and
recall@10 of keyword, semantic and hybrid search.

It imports the corpus into a fresh database with `rekall import` (each
document an entry: its title, its text as content, its id as the entry id),
then runs `rekall --json search --mode M --limit 10 QUERY` once per query and
mode, as a user or an agent would.

Metrics are BEIR's (pytrec_eval's): nDCG@10 with graded judgments as linear
gains and a log2(rank + 1) discount, normalised by the ideal ordering of all
judged documents; recall@10 is the share of a query's relevant documents
(grade > 0) in its first 10 results. Both are averaged over every judged
query (a query with no result scores 0). As in BEIR, a result whose id equals
the query's id is ignored.

    bench/quality/beir_eval.py --bin build/rekall --data bench/quality/data/scifact
    bench/quality/beir_eval.py --bin build/rekall --data bench/quality/testdata/sample \\
        --corpus data/sample.jsonl --check                          # CI's reduced run

--corpus takes entries as `rekall import` reads them instead of the data
folder's corpus.jsonl; an entry without an id gets its line number (from 1).
--queries N and --docs N evaluate a subset: the first N judged queries, and
their judged documents plus the corpus's first others up to N documents.
--db PATH keeps the database there and imports only when it does not exist
yet, so that several builds can be measured on one import (the import
embeds every document: about 4 minutes for SciFact's 5183 on 2 cores).
--precision P runs the binary with REKALL_PRECISION=P (fp32, bf16: the
embedder's arithmetic, for the import and the queries alike; give each
precision its own --db).
--check exits 1 unless every figure is a number in [0, 1] and each mode
found at least one relevant document (a sanity check, not a score target).

Stdlib only. The rekall binary finds its model and sqlite-vec where it was
built to (the defaults compiled into it).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

MODES = ("keyword", "semantic", "hybrid")
K = 10
CLI_TIMEOUT_S = 600.0  # the import embeds every document


# ---------------------------------------------------------------- the set

def read_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load_corpus(data: Path, corpus: Path | None) -> dict[str, dict]:
    """Document id -> the entry to import (title, content, type, ...)."""
    if corpus is None:
        return {d["_id"]: {"title": d.get("title", ""), "content": d.get("text", ""), "type": "reference"}
                for d in read_jsonl(data / "corpus.jsonl")}
    docs = {}
    for n, e in enumerate(read_jsonl(corpus), 1):
        docs[str(e.pop("id", n))] = e
    return docs


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            if line.strip():
                qid, doc, grade = line.rstrip("\n").split("\t")
                qrels.setdefault(qid, {})[doc] = int(grade)
    return qrels


def subset(docs: dict[str, dict], qrels: dict[str, dict[str, int]], n_queries: int | None,
           n_docs: int | None) -> tuple[dict[str, dict], dict[str, dict[str, int]]]:
    """The first n_queries judged queries; their judged documents, then the
    corpus's first other documents, up to n_docs."""
    qids = list(qrels)[:n_queries] if n_queries else list(qrels)
    qrels = {q: qrels[q] for q in qids}
    if not n_docs:
        return docs, qrels
    keep = [d for q in qids for d in qrels[q] if d in docs]
    keep = list(dict.fromkeys(keep))
    for d in docs:
        if len(keep) >= n_docs:
            break
        if d not in keep:
            keep.append(d)
    return {d: docs[d] for d in keep}, qrels


# ---------------------------------------------------------------- metrics

def ndcg_at_k(ranked: list[str], judged: dict[str, int], k: int = K) -> float:
    dcg = sum(judged.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at_k(ranked: list[str], judged: dict[str, int], k: int = K) -> float:
    relevant = {d for d, g in judged.items() if g > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def score(runs: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict:
    per_query = {q: round(ndcg_at_k(runs.get(q, []), qrels[q]), 5) for q in qrels}
    return {"ndcg@10": sum(ndcg_at_k(runs.get(q, []), qrels[q]) for q in qrels) / len(qrels),
            "recall@10": sum(recall_at_k(runs.get(q, []), qrels[q]) for q in qrels) / len(qrels),
            "ndcg@10_per_query": per_query}


# ---------------------------------------------------------------- rekall

class Rekall:
    def __init__(self, binary: Path, home: Path, db: Path | None, precision: str | None = None):
        self.binary = str(binary)
        self.db = str(db or home / "kb.db")
        # Only this run's database and no user configuration.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REKALL_")}
        self.env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"))
        if precision:
            self.env["REKALL_PRECISION"] = precision

    def run(self, args: list[str]) -> str:
        p = subprocess.run([self.binary, "--db", self.db, "--quiet"] + args, capture_output=True, text=True,
                           env=self.env, timeout=CLI_TIMEOUT_S)
        if p.returncode != 0:
            raise RuntimeError(f"rekall {' '.join(args[:3])} ... exited {p.returncode}: {p.stderr.strip()}")
        return p.stdout

    def search(self, mode: str, query: str) -> list[str]:
        out = json.loads(self.run(["--json", "search", "--mode", mode, "--limit", str(K), "--", query]))
        if out.get("mode") != mode:
            raise RuntimeError(f"asked for {mode} search, got {out.get('mode')}")
        return [r["id"] for r in out["results"]]


def import_docs(rk: Rekall, docs: dict[str, dict], home: Path) -> float:
    path = home / "entries.jsonl"
    with open(path, "w", encoding="utf-8") as f:
        for doc_id, e in docs.items():
            f.write(json.dumps({"id": doc_id, **e}, ensure_ascii=False) + "\n")
    t = time.monotonic()
    rk.run(["import", str(path)])
    return time.monotonic() - t


def run_mode(rk: Rekall, mode: str, queries: dict[str, str], jobs: int) -> dict[str, list[str]]:
    def one(qid: str) -> tuple[str, list[str]]:
        return qid, [d for d in rk.search(mode, queries[qid]) if d != qid]
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        return dict(pool.map(one, list(queries)))


# ---------------------------------------------------------------- report

def table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| mode | nDCG@10 | recall@10 | s / query |", "|---|---:|---:|---:|"]
    for mode, r in results.items():
        lines.append(f"| {mode} | {r['ndcg@10']:.4f} | {r['recall@10']:.4f} | {r['seconds_per_query']:.3f} |")
    return "\n".join(lines)


def sanity_problems(results: dict[str, dict[str, float]]) -> list[str]:
    problems = []
    for mode, r in results.items():
        for metric in ("ndcg@10", "recall@10"):
            v = r[metric]
            if not (isinstance(v, float) and math.isfinite(v) and 0.0 <= v <= 1.0):
                problems.append(f"{mode} {metric} = {v!r} is not a number in [0, 1]")
        if r["ndcg@10"] <= 0.0:
            problems.append(f"{mode} search found no relevant document for any query")
    return problems


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", type=Path, required=True, help="the rekall binary")
    ap.add_argument("--data", type=Path, required=True, help="a folder in BEIR's layout")
    ap.add_argument("--corpus", type=Path, help="entries to import instead of DATA/corpus.jsonl")
    ap.add_argument("--split", default="test")
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--queries", type=int, help="evaluate the first N judged queries")
    ap.add_argument("--docs", type=int, help="import at most N documents (the judged ones first)")
    ap.add_argument("--db", type=Path, help="keep the database here; import only if it does not exist")
    ap.add_argument("--jobs", type=int, default=1, help="searches run at once")
    ap.add_argument("--precision", help="the embedder's precision (REKALL_PRECISION): fp32 or bf16")
    ap.add_argument("--json-out", type=Path, help="write the figures here as JSON")
    ap.add_argument("--check", action="store_true", help="exit 1 unless the figures are sane")
    return ap.parse_args()


def evaluate(a: argparse.Namespace, home: Path) -> dict:
    docs = load_corpus(a.data, a.corpus)
    qrels = load_qrels(a.data / "qrels" / f"{a.split}.tsv")
    texts = {q["_id"]: q["text"] for q in read_jsonl(a.data / "queries.jsonl")}
    docs, qrels = subset(docs, qrels, a.queries, a.docs)
    missing = sorted({d for judged in qrels.values() for d in judged} - set(docs))
    if missing or set(qrels) - set(texts):
        raise RuntimeError(f"judgments name documents or queries the set lacks: {missing[:5]}")
    rk = Rekall(a.bin, home, a.db, a.precision)
    import_s = 0.0 if a.db and a.db.exists() else import_docs(rk, docs, home)
    queries = {q: texts[q] for q in qrels}
    results = {}
    for mode in a.modes.split(","):
        t = time.monotonic()
        runs = run_mode(rk, mode, queries, a.jobs)
        results[mode] = {**score(runs, qrels), "seconds_per_query": (time.monotonic() - t) / len(queries)}
    return {"set": str(a.data), "split": a.split, "precision": a.precision or "fp32", "documents": len(docs), "queries": len(queries),
            "import_seconds": round(import_s, 1), "results": results,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"), "machine": machine()}


def machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    return f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), load {os.getloadavg()[0]:.1f}"


def main() -> int:
    a = parse_args()
    with tempfile.TemporaryDirectory(prefix="rekall-quality-") as tmp:
        report = evaluate(a, Path(tmp))
    print(f"{report['set']} ({report['split']}, {report['precision']}): {report['documents']} documents, {report['queries']} queries; "
          f"import {report['import_seconds']} s; {report['date']}, {report['machine']}")
    print(table(report["results"]))
    if a.json_out:
        a.json_out.write_text(json.dumps(report, indent=2) + "\n")
    problems = sanity_problems(report["results"]) if a.check else []
    for p in problems:
        print("FAIL: " + p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
