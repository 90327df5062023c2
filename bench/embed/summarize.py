#!/usr/bin/env python3
"""Reads bench/embed/run.sh's results.jsonl, prints a Markdown summary:
median over rounds of each figure, and rekall's ratios to the others."""
import json
import statistics
import sys
from collections import defaultdict


def main():
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip().startswith("{")]
    by = defaultdict(list)
    for r in rows:
        by[(r["impl"], r["mode"])].append(r)

    def med(impl, mode, key):
        v = [r[key] for r in by[(impl, mode)] if key in r]
        return statistics.median(v) if v else float("nan")

    def best(impl, mode, key, fn=min):
        v = [r[key] for r in by[(impl, mode)] if key in r]
        return fn(v) if v else float("nan")

    impls = [("rekall", "rekall (C++)"), ("ort", "ONNX Runtime"), ("st", "sentence-transformers")]
    n = max(len(by[(i, "query")]) for i, _ in impls)
    print(f"Median over {n} interleaved rounds (best in brackets).\n")
    print("| | " + " | ".join(name for _, name in impls) + " |")
    print("|---|" + "---|" * len(impls))

    def line(label, fmt, vals):
        print(f"| {label} | " + " | ".join(fmt(v) for v in vals) + " |")

    line("query p50 wall, 1 thread (ms)", lambda v: f"{v[0]:.2f} ({v[1]:.2f})",
         [(med(i, "query", "p50_ms"), best(i, "query", "p50_ms")) for i, _ in impls])
    line("query p50 CPU time, 1 thread (ms)", lambda v: f"{v[0]:.2f} ({v[1]:.2f})",
         [(med(i, "query", "p50_cpu_ms"), best(i, "query", "p50_cpu_ms")) for i, _ in impls])
    line("throughput, 2 threads (texts/s)", lambda v: f"{v[0]:.1f} ({v[1]:.1f})",
         [(med(i, "throughput", "texts_per_s"), best(i, "throughput", "texts_per_s", max)) for i, _ in impls])
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
    for key, mode, label, target in [("p50_ms", "query", "query latency wall", "<= 0.8 ORT, <= 0.2 ST"),
                                     ("p50_cpu_ms", "query", "query latency CPU", "<= 0.8 ORT, <= 0.2 ST"),
                                     ("texts_per_s", "throughput", "throughput", ">= 1.2 ORT")]:
        a = med("rekall", mode, key)
        print(f"- {label}: {a / med('ort', mode, key):.2f}x ONNX Runtime, "
              f"{a / med('st', mode, key):.2f}x sentence-transformers (target {target})")


if __name__ == "__main__":
    main()
