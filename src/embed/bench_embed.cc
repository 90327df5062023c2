// bench_embed: measures this embedder the way bench/embed/run.sh measures
// sentence-transformers and ONNX Runtime, and prints one JSON line.
//   bench_embed --model DIR --mode query --threads 1 --runs 300 [--query TEXT]
//   bench_embed --model DIR --mode throughput --threads 2 --texts FILE.jsonl
//   bench_embed --model DIR --mode load
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "embed/embedder.h"
#include "util/env.h"

using rekall::embed::Embedder;
using rekall::embed::EmbedderOptions;
using Clock = std::chrono::steady_clock;

static double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// CPU time (user + system) of the whole process, in seconds.
static double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// CPU time of this thread: with 1 thread it is the latency the machine would
// show without other load (the build machine is shared).
static double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char** argv) {
  std::string model = REKALL_DEFAULT_MODEL_DIR_FOR_BENCH, mode = "query", texts_path,
              query = "how do I undo the last git commit";
  int threads = 1, runs = 300;
  size_t batch_tokens = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model = v;
    else if (k == "--mode") mode = v;
    else if (k == "--threads") threads = std::atoi(v.c_str());
    else if (k == "--runs") runs = std::atoi(v.c_str());
    else if (k == "--texts") texts_path = v;
    else if (k == "--query") query = v;
    else if (k == "--batch-tokens") batch_tokens = std::strtoul(v.c_str(), nullptr, 10);
    else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  EmbedderOptions opt;
  opt.num_threads = threads;
  if (batch_tokens) opt.max_batch_tokens = batch_tokens;
  nlohmann::json r = {{"impl", "rekall"}, {"mode", mode}, {"threads", threads}};

  auto t0 = Clock::now();
  std::unique_ptr<Embedder> e;
  rekall::Status s = Embedder::Load(model, opt, &e);
  auto t1 = Clock::now();
  if (!s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  r["load_ms"] = Ms(t1 - t0);
  std::vector<float> out;

  if (mode == "load") {
    // Load, then the first query (pages the weights in from the mmap).
    s = e->Embed({query}, &out);
    r["load_plus_first_query_ms"] = Ms(Clock::now() - t0);
  } else if (mode == "query") {
    for (int i = 0; i < 20; ++i) s = e->Embed({query}, &out);  // warm-up
    std::vector<double> lat, cpu;
    for (int i = 0; i < runs && s.ok(); ++i) {
      auto a = Clock::now();
      double c = ThreadCpuMs();
      s = e->Embed({query}, &out);
      cpu.push_back(ThreadCpuMs() - c);
      lat.push_back(Ms(Clock::now() - a));
    }
    std::sort(lat.begin(), lat.end());
    std::sort(cpu.begin(), cpu.end());
    r["p50_cpu_ms"] = cpu[cpu.size() / 2];
    r["runs"] = lat.size();
    r["tokens"] = e->tokenizer().Encode(query).size();
    r["p50_ms"] = lat[lat.size() / 2];
    r["p90_ms"] = lat[lat.size() * 9 / 10];
  } else if (mode == "throughput") {
    std::ifstream in(texts_path);
    if (!in) {
      std::cerr << "cannot read " << texts_path << "\n";
      return 1;
    }
    std::vector<std::string> texts;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) texts.push_back(nlohmann::json::parse(line).get<std::string>());
    }
    s = e->Embed(std::vector<std::string>(texts.begin(), texts.begin() + std::min<size_t>(32, texts.size())), &out);
    auto a = Clock::now();
    double cpu0 = ProcessCpuSeconds();
    s = e->Embed(texts, &out);
    double sec = Ms(Clock::now() - a) / 1000;
    r["cpu_seconds"] = ProcessCpuSeconds() - cpu0;
    size_t tokens = 0;
    for (const auto& t : texts) tokens += e->tokenizer().Encode(t).size();
    r["texts"] = texts.size();
    r["avg_tokens"] = double(tokens) / texts.size();
    r["seconds"] = sec;
    r["texts_per_s"] = texts.size() / sec;
  } else {
    std::cerr << "unknown mode " << mode << "\n";
    return 2;
  }
  if (!s.ok()) {
    std::cerr << s.ToString() << "\n";
    return 1;
  }
  r["peak_rss_mb"] = rekall::Env::Default()->PeakRssBytes() / 1048576.0;
  std::cout << r.dump() << std::endl;
  return 0;
}
