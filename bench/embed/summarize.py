#!/usr/bin/env python3
"""Reads bench/embed/run.sh's results.jsonl, prints a Markdown summary:
median over rounds of each figure, and rekall's ratios to the others.
rekall's precisions other than fp32 (PRECISIONS="fp32 bf16") get columns
of their own, and their ratios to fp32 of the same rounds."""
import json
import statistics
import sys
from collections import defaultdict

# Multiply-adds of all-MiniLM-L6-v2 per token, times 2: the six layers'
# dense products (4 of 384x384, 384x1536 and 1536x384), plus attention
# (QK^T and PV: 2 x 384 per token of the same text, per layer).
DENSE_FLOP_PER_TOKEN = 2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536)


def flop_per_token(avg_tokens):
    return DENSE_FLOP_PER_TOKEN + 2 * 6 * 2 * 384 * avg_tokens


def impl_key(r):
    p = r.get("precision", "fp32")
    return r["impl"] if p == "fp32" else f"{r['impl']}-{p}"


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
    by = defaultdict(list)
    for r in rows:
        by[(impl_key(r), r["mode"])].append(r)

    def med(impl, mode, key):
        v = [r[key] for r in by[(impl, mode)] if key in r]
        return statistics.median(v) if v else float("nan")

    def best(impl, mode, key, fn=min):
        v = [r[key] for r in by[(impl, mode)] if key in r]
        return fn(v) if v else float("nan")

    names = {"rekall": "rekall (C++)", "rekall-bf16": "rekall bf16", "ort": "ONNX Runtime",
             "st": "sentence-transformers"}
    present = {i for i, _ in by}
    impls = [(i, n) for i, n in names.items() if i in present]
    n = max(len(by[(i, m)]) for i, _ in impls for m in ("query", "throughput", "load"))
    print(f"Median over {n} interleaved rounds (best in brackets).\n")
    print("| | " + " | ".join(name for _, name in impls) + " |")
    print("|---|" + "---|" * len(impls))

    def line(label, fmt, vals):
        if all(v != v for v in (x[0] if isinstance(x, tuple) else x for x in vals)):
            return  # a mode this run did not measure
        print(f"| {label} | " + " | ".join(fmt(v) for v in vals) + " |")

    tokens = med("rekall", "throughput", "avg_tokens")
    if tokens != tokens:
        tokens = med("rekall-bf16", "throughput", "avg_tokens")
    line("query p50 wall, 1 thread (ms)", lambda v: f"{v[0]:.2f} ({v[1]:.2f})",
         [(med(i, "query", "p50_ms"), best(i, "query", "p50_ms")) for i, _ in impls])
    line("query p50 CPU time, 1 thread (ms)", lambda v: f"{v[0]:.2f} ({v[1]:.2f})",
         [(med(i, "query", "p50_cpu_ms"), best(i, "query", "p50_cpu_ms")) for i, _ in impls])
    line("throughput, 2 threads (texts/s)", lambda v: f"{v[0]:.1f} ({v[1]:.1f})",
         [(med(i, "throughput", "texts_per_s"), best(i, "throughput", "texts_per_s", max)) for i, _ in impls])
    line(f"throughput GFLOP/s ({tokens:.0f} tokens a text)", lambda v: f"{v:.0f}",
         [med(i, "throughput", "texts_per_s") * tokens * flop_per_token(tokens) / 1e9 for i, _ in impls])
    line("throughput CPU time (s per 1000 texts)", lambda v: f"{v:.1f}",
         [med(i, "throughput", "cpu_seconds") for i, _ in impls])
    line("load (ms)", lambda v: f"{v:.1f}", [med(i, "load", "load_ms") for i, _ in impls])
    line("load + first query (ms)", lambda v: f"{v:.1f}", [med(i, "load", "load_plus_first_query_ms") for i, _ in impls])
    line("Python import before load (ms)", lambda v: "-" if v != v else f"{v:.0f}",
         [med(i, "load", "import_ms") for i, _ in impls])
    line("peak RSS, query process (MB)", lambda v: f"{v:.0f}", [med(i, "query", "peak_rss_mb") for i, _ in impls])
    line("peak RSS, throughput process (MB)", lambda v: f"{v:.0f}",
         [med(i, "throughput", "peak_rss_mb") for i, _ in impls])

    print("\nRatios (rekall / other, medians):\n")
    for key, mode, label in [("p50_ms", "query", "query latency wall"),
                             ("p50_cpu_ms", "query", "query latency CPU"),
                             ("texts_per_s", "throughput", "throughput")]:
        for mine in ("rekall", "rekall-bf16"):
            a = med(mine, mode, key)
            if a != a:
                continue
            others = [f"{a / med(o, mode, key):.2f}x {names[o]}" for o, _ in impls if o != mine and not
                      (mine == "rekall" and o == "rekall-bf16") and med(o, mode, key) == med(o, mode, key)]
            print(f"- {label}, {names[mine]}: " + ", ".join(others))


if __name__ == "__main__":
    main()
