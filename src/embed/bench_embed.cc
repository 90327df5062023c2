// bench_embed: measures this embedder the way bench/embed/run.sh measures
// sentence-transformers and ONNX Runtime, and prints one JSON line.
//   bench_embed --model DIR --mode query --threads 1 --runs 300 [--query TEXT]
//   bench_embed --model DIR --mode throughput --threads 2 --texts FILE.jsonl
//   bench_embed --model DIR --mode load
//   bench_embed --model DIR --mode dump --threads 2 --texts FILE.jsonl --out FILE.f32 [--max-seq 128]
// The dump mode writes the embeddings of the texts (one JSON string a line)
// as raw float32 rows of dim() values, in input order, for the vector-index
// benchmarks on real embeddings (bench/index/prepare_vectors.py).
// --precision fp32|bf16 (any mode) sets the embedder's arithmetic.
//   bench_embed --mode linear [--runs 15]
// times one dense product per kernel (fp32, and each bf16 kernel this CPU
// has) on the model's shapes, one thread, and prints GFLOP/s per line.
#include <cblas.h>

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
#include "embed/linear.h"
#include "embed/linear_bf16.h"
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

// Reads one JSON string per non-empty line.
static bool ReadTexts(const std::string& path, std::vector<std::string>* texts) {
  std::ifstream in(path);
  if (!in) return false;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) texts->push_back(nlohmann::json::parse(line).get<std::string>());
  }
  return true;
}

// Embeds the texts in chunks (bounded memory, progress on stderr) and
// appends each chunk's rows to `out_path`.
static rekall::Status Dump(const Embedder& e, const std::vector<std::string>& texts, const std::string& out_path,
                           nlohmann::json* r) {
  std::ofstream out(out_path, std::ios::binary | std::ios::trunc);
  if (!out) return rekall::Status::IOError("cannot write " + out_path);
  constexpr size_t kChunk = 4096;
  std::vector<float> v;
  auto a = Clock::now();
  for (size_t i = 0; i < texts.size(); i += kChunk) {
    const size_t end = std::min(texts.size(), i + kChunk);
    rekall::Status s = e.Embed(std::vector<std::string>(texts.begin() + i, texts.begin() + end), &v);
    if (!s.ok()) return s;
    out.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size() * sizeof(float)));
    std::cerr << end << "/" << texts.size() << " " << Ms(Clock::now() - a) / 1000 << " s\n";
  }
  if (!out.flush()) return rekall::Status::IOError("write failed: " + out_path);
  (*r)["texts"] = texts.size();
  (*r)["dim"] = e.dim();
  (*r)["seconds"] = Ms(Clock::now() - a) / 1000;
  return rekall::Status::OK();
}

// GFLOP/s of one dense product per kernel: fp32 (Linear: our small kernel
// up to 48 rows, OpenBLAS beyond) and each bf16 kernel this CPU has, on the
// model's shapes, single-threaded. The median of `runs` products.
static nlohmann::json LinearRates(int runs) {
  using namespace rekall::embed;
  openblas_set_num_threads(1);
  nlohmann::json out = nlohmann::json::array();
  std::vector<float> x(512 * 1536), w(1536 * 1536), y(512 * 1536);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 1000) / 1000.0f - 0.5f;
  for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>((i * 104729) % 1000) / 1000.0f - 0.5f;
  for (auto [n, k] : {std::pair{384, 384}, std::pair{1536, 384}, std::pair{384, 1536}}) {
    Bf16Matrix pw;
    Bf16Matrix::Pack(w.data(), n, k, &pw);
    for (int m : {2, 10, 32, 100, 512}) {
      nlohmann::json r = {{"m", m}, {"n", n}, {"k", k}};
      // Thread CPU time: the machine is shared, and preemption is not the kernel's.
      auto rate = [&](auto&& product) {
        std::vector<double> t;
        for (int i = 0; i < runs; ++i) {
          double a = ThreadCpuMs();
          product();
          t.push_back(ThreadCpuMs() - a);
        }
        std::sort(t.begin(), t.end());
        return 2.0 * m * n * k / (t[t.size() / 2] * 1e6);
      };
      r["fp32"] = rate([&] { Linear(x.data(), w.data(), nullptr, y.data(), m, n, k); });
      for (Bf16Kernel kern : {Bf16Kernel::kAmx, Bf16Kernel::kAvx512Bf16, Bf16Kernel::kAvx512, Bf16Kernel::kAvx2}) {
        if (Bf16KernelAvailable(kern))
          r[Bf16KernelName(kern)] = rate([&] { LinearBf16(x.data(), pw, nullptr, y.data(), m, kern); });
      }
      out.push_back(r);
    }
  }
  return out;
}

int main(int argc, char** argv) {
  std::string model = REKALL_DEFAULT_MODEL_DIR_FOR_BENCH, mode = "query", texts_path, out_path,
              query = "how do I undo the last git commit";
  int threads = 1, runs = 300;
  size_t batch_tokens = 0, max_seq = 0;
  rekall::Precision precision = rekall::Precision::kFp32;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") model = v;
    else if (k == "--mode") mode = v;
    else if (k == "--threads") threads = std::atoi(v.c_str());
    else if (k == "--runs") runs = std::atoi(v.c_str());
    else if (k == "--texts") texts_path = v;
    else if (k == "--query") query = v;
    else if (k == "--out") out_path = v;
    else if (k == "--max-seq") max_seq = std::strtoul(v.c_str(), nullptr, 10);
    else if (k == "--batch-tokens") batch_tokens = std::strtoul(v.c_str(), nullptr, 10);
    else if (k == "--precision") {
      if (!rekall::ParsePrecision(v, &precision)) {
        std::cerr << "--precision must be fp32, bf16 or int8, not " << v << "\n";
        return 2;
      }
    } else {
      std::cerr << "unknown option " << k << "\n";
      return 2;
    }
  }
  EmbedderOptions opt;
  opt.num_threads = threads;
  opt.precision = precision;
  if (batch_tokens) opt.max_batch_tokens = batch_tokens;
  if (max_seq) opt.max_seq_length = max_seq;
  nlohmann::json r = {{"impl", "rekall"}, {"mode", mode}, {"threads", threads},
                      {"precision", rekall::PrecisionName(precision)}};
  if (mode == "linear") {
    for (const auto& line : LinearRates(runs == 300 ? 15 : runs)) std::cout << line.dump() << "\n";
    return 0;
  }

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
  } else if (mode == "dump") {
    std::vector<std::string> texts;
    if (!ReadTexts(texts_path, &texts)) {
      std::cerr << "cannot read " << texts_path << "\n";
      return 1;
    }
    s = Dump(*e, texts, out_path, &r);
  } else if (mode == "throughput") {
    std::vector<std::string> texts;
    if (!ReadTexts(texts_path, &texts)) {
      std::cerr << "cannot read " << texts_path << "\n";
      return 1;
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
