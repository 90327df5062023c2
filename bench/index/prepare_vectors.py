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

--sentences NAME builds a larger corpus of single sentences instead (the
1M-vector base: a sentence embeds several times faster than a paragraph):
the sources above and more Python docstrings and comments (the installed
packages' site-packages), /usr/share/doc text files, Perl pod and info
pages, split into sentences, 20..300 characters, mostly letters, at least
three words, deduplicated after lowercasing and folding punctuation,
shuffled with --seed. The first --max go to OUT/NAME.jsonl, the next
--held-out to OUT/NAME_queries.jsonl (queries drawn like the data, in no
base text), counts per source to OUT/NAME.json:

    bench/index/prepare_vectors.py --sentences real1m --max 1000000 --held-out 2000

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


def python_files(roots: tuple[str, ...]) -> list[str]:
    paths = []
    for root in roots:
        paths += glob.glob(root + "/**/*.py", recursive=True)
    return sorted(p for p in set(paths) if "/test" not in p and "/idlelib/" not in p)


def docstrings(source: str) -> list[str]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                out += doc.split("\n\n")
    return out


def python_docstrings(roots: tuple[str, ...] = ("/usr/lib/python3.*",)) -> list[str]:
    out = []
    for path in python_files(roots):
        try:
            out += docstrings(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, OSError):
            continue
    return out


# --- The sentence corpus (--sentences) -------------------------------------

SENT_MAX_CHARS = 300
SITE_PACKAGES = (
    "/usr/lib/python3.*",
    "/usr/lib/python3/dist-packages",
    "/work/venv-ref/lib/python3.*/site-packages",
    "/work/.venv-bench/lib/python3.*/site-packages",
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[]?[A-Z0-9])")
_BULLET = re.compile(r"^\s*(?:[*+•-]|o|\d+[.)])\s+")


def split_sentences(text: str) -> list[str]:
    return _SENTENCE_END.split(clean(text))


def is_prose(t: str) -> bool:
    """A sentence of words rather than code, a table row or a list of names."""
    if not MIN_CHARS <= len(t) <= SENT_MAX_CHARS or t.count(" ") < 2:
        return False
    dense = len(t) - t.count(" ")
    return sum(c.isalpha() for c in t) >= 0.75 * dense and not t.startswith((">>>", "..."))


def norm_key(t: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", t.lower()).strip()


def text_items(lines: list[str], code_indent: int = 8) -> list[str]:
    """Paragraphs of plain text (blank lines between them), each bullet its
    own item; lines without letters (rules, underlines) and lines indented
    as code are dropped."""
    out: list[str] = []
    item: list[str] = []
    for line in lines + [""]:
        indent = len(line) - len(line.lstrip(" \t"))
        if not line.strip() or _BULLET.match(line):
            if item:
                out.append(" ".join(item))
            item = [_BULLET.sub("", line)] if line.strip() else []
        elif indent < code_indent and re.search("[A-Za-z]", line):
            item.append(line.strip())
    return out


def changelog_items() -> list[str]:
    """Each bullet of each Debian changelog entry (changelog_entries joins
    an entry's bullets, which run sentences together)."""
    out = []
    for path in sorted(glob.glob("/usr/share/doc/*/changelog.Debian.gz")):
        try:
            text = gzip.open(path, "rt", encoding="utf-8", errors="replace").read()
        except OSError:
            continue
        out += text_items([ln for ln in text.splitlines() if ln.startswith("  ")], code_indent=12)
    return out


def python_comments(source: str) -> list[str]:
    """Blocks of whole-line comments, one item per block."""
    lines = []
    for line in source.splitlines():
        s = line.lstrip()
        lines.append(s[1:] if s.startswith("#") and not s.startswith("#!") else "")
    return text_items(lines)


def python_texts() -> list[str]:
    """Docstring paragraphs and comment blocks of the stdlib and the
    installed packages (tests excluded)."""
    out = []
    for path in python_files(SITE_PACKAGES):
        try:
            source = Path(path).read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        out += [" ".join(d.splitlines()) for d in docstrings(source)]
        out += python_comments(source)
    return out


def read_text(path: str) -> str:
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="strict") as f:
            return f.read(4 << 20)
    except (OSError, UnicodeDecodeError, EOFError):
        return ""


def doc_files() -> list[str]:
    """Plain-text files under /usr/share/doc (READMEs, NEWS, upstream
    changelogs, copyright notices...), not markup or Debian changelogs."""
    out = []
    skip = re.compile(r"changelog\.Debian|\.(html?|css|js|png|jpe?g|gif|svg|pdf|py|c|h|sh|pl|xml|json)(\.gz)?$")
    for path in sorted(glob.glob("/usr/share/doc/**/*", recursive=True)):
        if not skip.search(path) and Path(path).is_file():
            out += text_items(read_text(path).splitlines())
    return out


def _pod_text(t: str) -> str:
    for _ in range(3):  # nested formatting codes, innermost first
        t = re.sub(r"[BICFLSXZE]<<+\s*(.*?)\s*>>+|[BICFLSXZE]<([^<>]*)>", lambda m: m.group(1) or m.group(2) or "", t)
    return t


def perl_pod() -> list[str]:
    """Text paragraphs of the POD in Perl's modules and manuals (not
    commands, not verbatim code)."""
    out = []
    paths = glob.glob("/usr/share/perl*/**/*.p[mo]d", recursive=True)
    paths += glob.glob("/usr/share/perl*/**/*.pm", recursive=True)
    for path in sorted(set(paths)):
        in_pod = False
        for para in read_text(path).split("\n\n"):
            if para.startswith("="):
                in_pod = not para.startswith("=cut")
            elif in_pod and para[:1] not in (" ", "\t", ""):
                out.append(_pod_text(" ".join(para.split())))
    return out


def info_pages() -> list[str]:
    """Paragraphs of the GNU info manuals, examples and menus dropped."""
    out = []
    for path in sorted(glob.glob("/usr/share/info/*.info*.gz")):
        lines = [ln for ln in read_text(path).splitlines()
                 if not ln.startswith(("\x1f", "File: ", "* ", "Tag Table", "End Tag Table"))]
        out += text_items(lines, code_indent=5)
    return out


def sentence_sources(scifact: Path) -> dict[str, list[str]]:
    print("reading sources...", file=sys.stderr, flush=True)
    return {
        "scifact": scifact_sentences(scifact),
        "changelog": changelog_items(),
        "man": man_paragraphs(),
        "python": python_texts(),
        "doc": doc_files(),
        "pod": perl_pod(),
        "info": info_pages(),
    }


def sentence_corpus(a: argparse.Namespace) -> int:
    seen: set[str] = set()
    corpus: list[tuple[str, str]] = []
    stats = {}
    for name, texts in sentence_sources(a.scifact).items():
        found = kept = 0
        for t in (s for text in texts for s in split_sentences(text)):
            if not is_prose(t):
                continue
            found += 1
            key = norm_key(t)
            if key not in seen:
                seen.add(key)
                corpus.append((name, t))
                kept += 1
        stats[name] = {"items": len(texts), "sentences": found, "distinct": kept}
        print(name, stats[name], file=sys.stderr, flush=True)
    random.Random(a.seed).shuffle(corpus)
    base, held = corpus[: a.max], corpus[a.max : a.max + a.held_out]
    for name in stats:
        rows = [t for src, t in base if src == name]
        stats[name]["in_base"] = len(rows)
        stats[name]["mean_chars"] = round(sum(map(len, rows)) / max(1, len(rows)), 1)
    claims = {norm_key(c) for c in scifact_claims(a.scifact)}
    summary = {"distinct": len(corpus), "base": len(base), "held_out": len(held),
               "claims_in_base": sum(norm_key(t) in claims for _, t in base), "sources": stats}
    a.out.mkdir(parents=True, exist_ok=True)
    for suffix, rows in (("", base), ("_queries", held)):
        with open(a.out / f"{a.sentences}{suffix}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps(t) + "\n" for _, t in rows)
    (a.out / f"{a.sentences}.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(summary))
    return 0 if len(base) == a.max else 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scifact", type=Path, default=Path("/tmp/beir"))
    ap.add_argument("--out", type=Path, default=Path("/work/data/vectors"))
    ap.add_argument("--max", type=int, default=300000, help="corpus texts kept at most")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sentences", metavar="NAME", help="build the sentence corpus OUT/NAME.jsonl instead")
    ap.add_argument("--held-out", type=int, default=2000, help="--sentences: distinct texts after the base, as queries")
    a = ap.parse_args()
    if a.sentences:
        return sentence_corpus(a)
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
