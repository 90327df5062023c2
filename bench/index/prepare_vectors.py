#!/usr/bin/env python3
"""Gathers real English texts available offline and writes them as JSON
lines for `bench_embed --mode dump`, which embeds them with our MiniLM
embedder into raw float32 files for index_bench and ann_bench.py.

Why: the vector-index figures were measured on random vectors, which are
spread evenly over the sphere; MiniLM embeddings are not (a strong common
direction, clusters), and that decides how well a 1-bit or int8 pre-scan
ranks. The data stays out of the repository (licences; size).

Corpus (deduplicated, 20..600 characters each, shuffled with a fixed seed,
cut to --max):
  - SciFact abstracts split into sentences (corpus_train.csv of the SciFact
    CSV export, the one bench/quality/prepare_scifact.py reads);
  - Debian changelog entries (/usr/share/doc/*/changelog.Debian.gz), one per
    entry: a developer's note, close to what our users store;
  - English man-page paragraphs (/usr/share/man/man?), macros stripped;
  - docstring paragraphs of Python's standard library (/usr/lib/python3.*).
Queries: the SciFact claims (all three splits), which are in no corpus text.

    bench/index/prepare_vectors.py --scifact /tmp/beir --out /work/data/vectors
    # then (prints the embedding commands it expects):
    nice bench_embed --mode dump --threads 2 --max-seq 128 \\
        --texts OUT/corpus.jsonl --out OUT/corpus.f32
    nice bench_embed --mode dump --threads 2 --texts OUT/queries.jsonl --out OUT/queries.f32

Stdlib only.
"""

from __future__ import annotations

import argparse
import ast
import csv
import glob
import gzip
import io
import json
import random
import re
import sys
import tokenize
from pathlib import Path

MIN_CHARS, MAX_CHARS = 20, 600


def clean(t: str) -> str:
    return re.sub(r"\s+", " ", t).strip()


def scifact_sentences(src: Path) -> list[str]:
    csv.field_size_limit(1 << 30)
    out = []
    with open(src / "corpus_train.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for tok in tokenize.generate_tokens(io.StringIO(row["abstract"]).readline):
                if tok.type == tokenize.STRING:
                    out.append(ast.literal_eval(tok.string))
    return out


def scifact_claims(src: Path) -> list[str]:
    out = []
    for name in ("claims_train.csv", "claims_validation.csv", "claims_test.csv"):
        with open(src / name, encoding="utf-8") as f:
            out += [row["claim"] for row in csv.DictReader(f)]
    return out


def changelog_entries() -> list[str]:
    """The change lines of each entry (between the header line and the
    ' -- maintainer' trailer), bullets and blank lines folded."""
    out = []
    for path in sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")):
        try:
            text = gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        body: list[str] = []
        for line in text.splitlines():
            if line.startswith(" -- "):
                out.append(" ".join(body))
                body = []
            elif line.startswith("  "):
                body.append(line.strip().lstrip("*-+ "))
    return out


_ESCAPES = re.compile(r"\\f[BIRP]|\\f\(..|\\f\[[^]]*\]|\\\(..|\\\[[^]]*\]|\\[-&e|^ ]|\\s[-+]?\d")


def man_paragraphs() -> list[str]:
    """Paragraphs of the English man pages: text lines between paragraph
    macros, with font and character escapes dropped."""
    out = []
    for path in sorted(glob.glob("/usr/share/man/man?/*.gz")):
        try:
            text = gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        para: list[str] = []
        for line in text.splitlines():
            if line.startswith((".", "'")):
                if re.match(r"[.'](PP|P|LP|SH|SS|TP|IP|HP|sp|br)\b", line) and para:
                    out.append(_ESCAPES.sub("", " ".join(para)))
                    para = []
                continue
            para.append(line)
        if para:
            out.append(_ESCAPES.sub("", " ".join(para)))
    return out


def python_docstrings() -> list[str]:
    out = []
    for path in sorted(glob.glob("/usr/lib/python3.*/**/*.py", recursive=True)):
        if "/test" in path or "/idlelib/" in path:
            continue
        try:
            tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc:
                    out += doc.split("\n\n")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", type=Path, default=Path("/tmp/beir"))
    ap.add_argument("--out", type=Path, default=Path("/work/data/vectors"))
    ap.add_argument("--max", type=int, default=300000, help="corpus texts kept at most")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    sources = {
        "scifact": scifact_sentences(a.scifact),
        "changelog": changelog_entries(),
        "man": man_paragraphs(),
        "pydoc": python_docstrings(),
    }
    seen: set[str] = set()
    corpus, counts = [], {}
    for name, texts in sources.items():
        kept = 0
        for t in map(clean, texts):
            if MIN_CHARS <= len(t) and t not in seen:
                seen.add(t)
                corpus.append(t[:MAX_CHARS])
                kept += 1
        counts[name] = kept
    random.Random(a.seed).shuffle(corpus)
    corpus = corpus[: a.max]
    queries = [q for q in dict.fromkeys(map(clean, scifact_claims(a.scifact))) if q not in seen]
    a.out.mkdir(parents=True, exist_ok=True)
    for name, rows in (("corpus", corpus), ("queries", queries)):
        with open(a.out / f"{name}.jsonl", "w", encoding="utf-8") as f:
            for t in rows:
                f.write(json.dumps(t) + "\n")
    print(json.dumps({"found": counts, "corpus": len(corpus), "queries": len(queries)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
