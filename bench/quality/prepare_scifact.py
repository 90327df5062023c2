#!/usr/bin/env python3
"""Builds BEIR's SciFact test set (corpus.jsonl, queries.jsonl, qrels/test.tsv)
from the SciFact release as CSV files (an export of the dataset `allenai/scifact`:
corpus_train.csv and claims_validation.csv, zipped or in a folder).

Why a converter and not the data: the set is licensed CC BY-NC 2.0 and this
workplace keeps data from outside out of the repository (see README.md
beside this file for where the CSV export comes from).

BEIR's SciFact test split is SciFact's validation claims (300 of them) with
the abstracts each claim cites as relevant (grade 1, 339 pairs); BEIR's
corpus line is {"_id", "title", "text"} with the title stripped and the text
being the abstract's sentences, each stripped, joined by one space. The
corpus this writes has the same 5183 records, in the same order, and the same
7,998,337 characters as BEIR's corpus.jsonl.

    bench/quality/prepare_scifact.py SOURCE.zip [--out bench/quality/data/scifact]

Stdlib only.
"""

from __future__ import annotations

import argparse
import ast
import csv
import hashlib
import io
import json
import sys
import tokenize
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "data" / "scifact"
# The zip this was written against (the expected counts below are checked
# whatever the source).
KNOWN_SHA256 = "a798a7046af0f6fa04476448459ce7cafeea5bd90d4d99c53a0e27dc5e1a4673"
EXPECTED = {"docs": 5183, "queries": 300, "qrels": 339, "corpus_chars": 7998337}


def read_csv(source: Path, name: str) -> list[dict[str, str]]:
    csv.field_size_limit(1 << 30)
    if source.is_dir():
        text = (source / name).read_text(encoding="utf-8")
    else:
        with zipfile.ZipFile(source) as z:
            text = z.read(name).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def sentences(cell: str) -> list[str]:
    """The abstract column is the printed form of an array of strings
    (`['First.' 'Second.']`, one Python string literal per sentence): read
    each literal on its own, so adjacent ones are not concatenated."""
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(cell).readline):
        if tok.type == tokenize.STRING:
            out.append(ast.literal_eval(tok.string))
    return out


def corpus_lines(rows: list[dict[str, str]]) -> list[str]:
    lines = []
    for r in rows:
        text = " ".join(s.strip() for s in sentences(r["abstract"]))
        doc = {"_id": r["doc_id"], "title": r["title"].strip(), "text": text}
        lines.append(json.dumps(doc, ensure_ascii=False))
    return lines


def test_split(claims: list[dict[str, str]]) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """Queries and (query, doc) pairs: a claim appears once per evidence row,
    every row carrying the same cited documents."""
    queries: dict[str, str] = {}
    pairs: set[tuple[str, str]] = set()
    for c in claims:
        queries[c["id"]] = c["claim"]
        for doc in c["cited_doc_ids"].strip("[]").split():
            pairs.add((c["id"], doc))
    return queries, pairs


def write(out: Path, corpus: list[str], queries: dict[str, str], pairs: set[tuple[str, str]]) -> None:
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    (out / "corpus.jsonl").write_text("".join(l + "\n" for l in corpus), encoding="utf-8")
    with open(out / "queries.jsonl", "w", encoding="utf-8") as f:
        for qid in sorted(queries, key=int):
            f.write(json.dumps({"_id": qid, "text": queries[qid]}, ensure_ascii=False) + "\n")
    with open(out / "qrels" / "test.tsv", "w", encoding="utf-8") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        for qid, doc in sorted(pairs, key=lambda p: (int(p[0]), int(p[1]))):
            f.write(f"{qid}\t{doc}\t1\n")


def check(corpus: list[str], queries: dict[str, str], pairs: set[tuple[str, str]]) -> list[str]:
    got = {"docs": len(corpus), "queries": len(queries), "qrels": len(pairs),
           "corpus_chars": sum(len(l) + 1 for l in corpus)}
    return [f"{k}: {got[k]}, expected {v}" for k, v in EXPECTED.items() if got[k] != v]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("source", type=Path, help="the SciFact CSV export: a .zip or a folder")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    a = ap.parse_args()
    if a.source.is_file():
        digest = hashlib.sha256(a.source.read_bytes()).hexdigest()
        if digest != KNOWN_SHA256:
            print(f"note: {a.source} has sha256 {digest}, not the known {KNOWN_SHA256}", file=sys.stderr)
    corpus = corpus_lines(read_csv(a.source, "corpus_train.csv"))
    queries, pairs = test_split(read_csv(a.source, "claims_validation.csv"))
    problems = check(corpus, queries, pairs)
    if problems:
        print("not BEIR's SciFact test split: " + "; ".join(problems), file=sys.stderr)
        return 1
    write(a.out, corpus, queries, pairs)
    print(f"wrote {a.out}: {len(corpus)} documents, {len(queries)} queries, {len(pairs)} judgments")
    return 0


if __name__ == "__main__":
    sys.exit(main())
