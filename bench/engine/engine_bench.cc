// End-to-end engine figures: warm search (embed the query + KNN + fetch the
// entries) on a base of N entries, and adding one entry (embed + write +
// index) to a base of M entries, for each vector backend.
//
//   bench_engine [--search-n 10000] [--add-n 50000] [--queries 200] [--adds 50]
//
// The bases hold random unit vectors written straight into the store (the
// real model would take minutes to embed 50K texts); queries and added
// entries go through the real model, as a user's would.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "store/store.h"

using namespace rekall;
using Clock = std::chrono::steady_clock;

namespace {

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * v.size()))];
}

void Fill(store::Store* st, int n, std::mt19937* rng) {
  static const char* types[] = {"bug", "pattern", "decision", "pitfall", "config", "reference"};
  std::normal_distribution<float> g;
  st->WithTransaction([&]() {
    for (int i = 0; i < n; ++i) {
      store::Entry e;
      e.title = "synthetic entry " + std::to_string(i) + " about topic " + std::to_string((*rng)() % 500);
      e.content = "notes on component " + std::to_string((*rng)() % 1000) + " and its configuration";
      e.type = types[i % 6];
      e.tags = {"t" + std::to_string(i % 20)};
      std::vector<float> v(384);
      double norm = 0;
      for (auto& x : v) {
        x = g(*rng);
        norm += x * x;
      }
      for (auto& x : v) x = static_cast<float>(x / std::sqrt(norm));
      Status s = st->Add(&e, &v);
      if (!s.ok()) {
        std::fprintf(stderr, "fill: %s\n", s.ToString().c_str());
        std::exit(1);
      }
    }
    return Status::OK();
  });
}

std::unique_ptr<Engine> OpenEngine(const std::string& path, const std::string& backend) {
  EngineOptions o;
  o.db_path = path;
  o.cfg.vector_backend = backend;
  o.long_running = true;  // as the server holds it
  if (backend == "sqlite-vec") o.long_running = false;
  std::unique_ptr<Engine> e;
  Status s = Engine::Open(std::move(o), &e);
  if (!s.ok()) {
    std::fprintf(stderr, "open: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  return e;
}

}  // namespace

int main(int argc, char** argv) {
  int search_n = 10000, add_n = 50000, queries = 200, adds = 50;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (a == "--search-n") search_n = v;
    else if (a == "--add-n") add_n = v;
    else if (a == "--queries") queries = v;
    else if (a == "--adds") adds = v;
  }
  std::string dir = std::filesystem::temp_directory_path() / "rekall_engine_bench";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::mt19937 rng(7);
  const char* words[] = {"timeout", "nginx", "database", "lock", "react", "memory", "leak", "docker", "cache",
                         "index", "query", "slow", "crash", "deploy", "auth", "token"};
  std::printf("| backend | what | N | p50 ms | p95 ms |\n|---|---|---|---|---|\n");
  for (const std::string backend : {"brute", "sqlite-vec"}) {
    for (auto [n, what] : {std::pair{search_n, "warm search (embed + KNN + fetch, k=10)"},
                           std::pair{add_n, "add one entry (embed + write + index)"}}) {
      std::string path = dir + "/" + backend + std::to_string(n) + ".db";
      {
        std::unique_ptr<store::Store> st;
        store::Store::Open(path, {}, &st);
        Fill(st.get(), n, &rng);
      }
      auto eng = OpenEngine(path, backend);
      std::vector<double> t;
      if (std::string(what).rfind("warm", 0) == 0) {
        SearchRequest warm;
        warm.query = "warm up";
        SearchResponse r;
        eng->Search(warm, &r);  // loads the model and the index
        for (int q = 0; q < queries; ++q) {
          SearchRequest req;
          req.mode = SearchMode::kSemantic;  // what the figures measure: embed + KNN + fetch
          // Distinct queries: the query-embedding cache must not serve them.
          req.query = std::string(words[rng() % 16]) + " " + words[rng() % 16] + " " + std::to_string(q);
          auto t0 = Clock::now();
          Status s = eng->Search(req, &r);
          t.push_back(Ms(Clock::now() - t0));
          if (!s.ok() || r.results.size() != 10) {
            std::fprintf(stderr, "search: %s (%zu results)\n", s.ToString().c_str(), r.results.size());
            return 1;
          }
        }
      } else {
        SearchRequest warm;
        warm.query = "warm up";
        SearchResponse r;
        eng->Search(warm, &r);
        for (int a = 0; a < adds; ++a) {
          store::Entry e;
          e.title = std::string("new note on ") + words[rng() % 16] + " " + std::to_string(a);
          e.content = std::string("we saw ") + words[rng() % 16] + " then " + words[rng() % 16];
          e.type = "bug";
          std::string notice;
          auto t0 = Clock::now();
          Status s = eng->Add(&e, &notice);
          t.push_back(Ms(Clock::now() - t0));
          if (!s.ok()) {
            std::fprintf(stderr, "add: %s\n", s.ToString().c_str());
            return 1;
          }
        }
      }
      std::printf("| %s | %s | %d | %.2f | %.2f |\n", backend.c_str(), what, n, Pct(t, 0.5), Pct(t, 0.95));
      std::fflush(stdout);
    }
  }
  std::filesystem::remove_all(dir);
  return 0;
}
