#!/usr/bin/env python3
"""Python side of bench/embed/run.sh: sentence-transformers (PyTorch CPU) or
ONNX Runtime on the same model and texts; prints one JSON line like
bench_embed does.

    bench_py.py --impl st|ort --mode query|throughput|load --threads N
                [--texts FILE.jsonl] [--onnx model.onnx] [--runs N]
"""
import argparse
import json
import os
import resource
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

QUERY = "how do I undo the last git commit"


def peak_rss_mb():
    # ru_maxrss is in kB on Linux (VmHWM of this process).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


class OrtEmbedder:
    """all-MiniLM-L6-v2 exported with pooling and normalisation in the graph;
    texts sorted by length and batched like sentence-transformers does."""

    def __init__(self, model_dir, onnx_path, threads):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
        self.tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tok.enable_truncation(256)
        self.tok.no_padding()

    def encode(self, texts, batch_size=32):
        import numpy as np

        encs = self.tok.encode_batch(texts)
        order = sorted(range(len(texts)), key=lambda i: -len(encs[i].ids))
        out = [None] * len(texts)
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            L = max(len(encs[i].ids) for i in idx)
            ids = np.zeros((len(idx), L), dtype=np.int64)
            mask = np.zeros((len(idx), L), dtype=np.int64)
            for r, i in enumerate(idx):
                n = len(encs[i].ids)
                ids[r, :n] = encs[i].ids
                mask[r, :n] = 1
            (emb,) = self.sess.run(None, {"input_ids": ids, "attention_mask": mask,
                                          "token_type_ids": np.zeros_like(ids)})
            for r, i in enumerate(idx):
                out[i] = emb[r]
        return np.stack(out)


def export_onnx(model_dir, path):
    import torch
    from transformers import AutoModel

    class Wrapped(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    m = Wrapped(AutoModel.from_pretrained(model_dir)).eval()
    ids = torch.ones(2, 16, dtype=torch.int64)
    axes = {0: "batch", 1: "seq"}
    torch.onnx.export(m, (ids, ids, torch.zeros_like(ids)), path, dynamo=False, opset_version=17,
                      input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
                      dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                    "embedding": {0: "batch"}})


def make_texts(path, n, sentences=(5, 7)):
    """n developer-note paragraphs of about 100 tokens (5 to 7 sentences;
    13 to 17 give about 250), deterministic."""
    import random
    rng = random.Random(42)
    words = ("the a to of and in is for on with that this it we use when not be can by from as our run "
             "database sqlite index query vector embedding model search note memory cache lock thread "
             "latency server client request response build compile test failure error fix deploy release "
             "branch commit merge rebase docker container kernel process file path config json token "
             "python rust c++ function struct class method pointer buffer allocation performance benchmark "
             "similarity cosine ranking result user local first sync migration schema table column").split()
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(n):
            sent = []
            for _ in range(rng.randint(*sentences)):
                k = rng.randint(8, 16)
                w = [rng.choice(words) for _ in range(k)]
                w[0] = w[0].capitalize()
                sent.append(" ".join(w) + rng.choice([".", ".", "!", "?"]))
            f.write(json.dumps(" ".join(sent)) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", choices=["st", "ort", "export", "texts"], required=True)
    ap.add_argument("--mode", default="query")
    ap.add_argument("--model", default=os.path.join(os.path.dirname(__file__), "..", "..", "models", "all-MiniLM-L6-v2"))
    ap.add_argument("--onnx", default="/tmp/rekall-bench/model.onnx")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--texts")
    ap.add_argument("--sentences", default="5,7", help="texts: sentences per paragraph, MIN,MAX")
    args = ap.parse_args()
    model_dir = os.path.abspath(args.model)

    if args.impl == "texts":
        make_texts(args.texts, args.runs, tuple(int(x) for x in args.sentences.split(",")))
        return
    if args.impl == "export":
        export_onnx(model_dir, args.onnx)
        return

    r = {"impl": args.impl, "mode": args.mode, "threads": args.threads}
    t0 = time.perf_counter()
    if args.impl == "st":
        import torch
        torch.set_num_threads(args.threads)
        torch.set_num_interop_threads(1)
        t_import = time.perf_counter()
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer(model_dir, device="cpu")
        enc = lambda texts: model.encode(texts, batch_size=32, convert_to_numpy=True)
    else:
        import onnxruntime  # noqa: F401
        t_import = time.perf_counter()
        model = OrtEmbedder(model_dir, args.onnx, args.threads)
        enc = lambda texts: model.encode(texts)
    t1 = time.perf_counter()
    r["import_ms"] = (t_import - t0) * 1000
    r["load_ms"] = (t1 - t_import) * 1000

    if args.mode == "load":
        enc([QUERY])
        r["load_plus_first_query_ms"] = (time.perf_counter() - t_import) * 1000
    elif args.mode == "query":
        for _ in range(20):
            enc([QUERY])
        lat, cpu = [], []
        for _ in range(args.runs):
            a = time.perf_counter()
            c = time.thread_time()
            enc([QUERY])
            cpu.append((time.thread_time() - c) * 1000)
            lat.append((time.perf_counter() - a) * 1000)
        lat.sort()
        cpu.sort()
        # With 1 thread the work runs on this thread (ORT intra-op 1, torch 1).
        r["p50_cpu_ms"] = cpu[len(cpu) // 2]
        r["runs"] = len(lat)
        r["p50_ms"] = lat[len(lat) // 2]
        r["p90_ms"] = lat[len(lat) * 9 // 10]
    elif args.mode == "throughput":
        with open(args.texts, encoding="utf-8") as f:
            texts = [json.loads(line) for line in f if line.strip()]
        enc(texts[:32])
        a = time.perf_counter()
        cpu0 = time.process_time()
        enc(texts)
        sec = time.perf_counter() - a
        r["cpu_seconds"] = time.process_time() - cpu0
        r["texts"] = len(texts)
        r["seconds"] = sec
        r["texts_per_s"] = len(texts) / sec
    r["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
