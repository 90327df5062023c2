"""Writes and keyword searches alternating against a fresh `rekall serve`,
with the server's keyword-index counters (rekall_info) every 20 rounds: does
the in-memory keyword index answer while the server writes?

    python3 bench/soak/kwdiag.py build/rekall /path/to/kb-50k.db 100

The store is copied first; the latencies printed are wall-clock ms.
"""
import sys, time, random, pathlib, tempfile, shutil
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import soak, focus  # noqa: E402
binary, src, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
tmp = pathlib.Path(tempfile.mkdtemp()); db = tmp / "kb.db"; shutil.copy(src, db)
cfg = tmp / "c.toml"; cfg.write_text("")
srv = soak.Server(binary, db, cfg, 600)
srv.request("initialize", focus.INIT)
warm = srv.call("rekall_search", {"query": "timeout", "mode": "keyword", "limit": 200})
ids = [r["id"] for r in warm["structuredContent"]["results"]]
srv.call("rekall_search", {"query": "warm up", "mode": "semantic", "limit": 10})
time.sleep(3)
info = lambda: srv.call("rekall_info", {})["structuredContent"].get("keyword_index")
print("after warm", info())
rng = random.Random(4)
lat = {"kw": [], "w": []}
w = focus.requests("writes", n, ids, 5)
for i, (label, tool, args) in enumerate(w):
    t = time.perf_counter(); srv.call(tool, args); lat["w"].append((time.perf_counter()-t)*1000)
    t = time.perf_counter(); srv.call("rekall_search", {"query": soak.make_query(rng), "mode": "keyword", "limit": 10}); lat["kw"].append((time.perf_counter()-t)*1000)
    if i % 20 == 0: print(i, info())
print("end", info())
for k, v in lat.items():
    v.sort(); print(k, "p50 %.1f p95 %.1f max %.1f" % (v[len(v)//2], v[int(len(v)*.95)], v[-1]))
srv.close()
