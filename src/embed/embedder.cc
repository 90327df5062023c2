#include "embed/embedder.h"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <numeric>
#include <thread>

#include <nlohmann/json.hpp>

#include "embed/bert.h"
#include "embed/linear.h"

namespace rekall::embed {
namespace {

// Reads an optional JSON file: absent is fine (null), unreadable JSON is not.
Status ReadOptionalJson(const std::string& path, nlohmann::json* out) {
  std::ifstream in(path);
  if (!in) {
    *out = nullptr;
    return Status::OK();
  }
  *out = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded() || (!out->is_object() && !out->is_array())) return Status::Corruption(path + ": bad JSON");
  return Status::OK();
}

// Tokens in a lone batch from which its work is split across threads
// whatever the load (see EmbedIds).
constexpr size_t kBlasSplitTokens = 192;

// True when the machine's other cores are idle: the 1-minute load average
// (which counts this process too) is below `threads` - 0.5.
bool CoresFree(int threads) {
  double load = 0;
  return threads > 1 && getloadavg(&load, 1) == 1 && load < threads - 0.5;
}

// openblas_set_num_threads is process-wide and not free to call; only call
// it when the wanted count changes.
void SetBlasThreads(int n) {
  static std::atomic<int> current{-1};
  if (current.exchange(n) != n) openblas_set_num_threads(n);
}

}  // namespace

// OpenBLAS's pthread build (Debian's default) starts its worker threads as
// it loads, and each spins in sched_yield for ~2^28 cycles (~0.1 s) before
// it sleeps: a whole one-shot `rekall search` lasts ~80 ms, so it took twice
// its CPU time, the second core spinning throughout (perf of 20 cold
// searches: 37% of the samples in sched_yield; OPENBLAS_NUM_THREADS=1: CPU
// 160 -> 80 ms, the same wall time on an idle machine). No product wants
// those threads until SetBlasThreads asks for more than one, and OpenBLAS
// starts them again then (openblas_set_num_threads re-creates a stopped
// pool, so the count is set to 1 first). blas_thread_shutdown_ is the call
// OpenBLAS itself makes around fork; a weak reference, since other BLAS
// builds (serial, OpenMP) have no such pool.
extern "C" int blas_thread_shutdown_(void) __attribute__((weak));

namespace {

// Only before the first Load: no product can be running in OpenBLAS then.
void StopIdleBlasThreads() {
  SetBlasThreads(1);
  if (blas_thread_shutdown_) blas_thread_shutdown_();
}

}  // namespace

Embedder::~Embedder() = default;

int Embedder::dim() const { return model_->dim(); }

Status Embedder::Load(const std::string& dir, const EmbedderOptions& options, std::unique_ptr<Embedder>* out) {
  static std::once_flag blas_threads_stopped;
  std::call_once(blas_threads_stopped, StopIdleBlasThreads);
  std::unique_ptr<Embedder> e(new Embedder());
  e->options_ = options;
  if (e->options_.num_threads <= 0) e->options_.num_threads = std::max(1u, std::thread::hardware_concurrency());
  if (e->options_.max_batch_tokens == 0) e->options_.max_batch_tokens = 512;

  nlohmann::json st, pooling, modules;
  Status s = ReadOptionalJson(dir + "/sentence_bert_config.json", &st);
  if (s.ok()) s = ReadOptionalJson(dir + "/1_Pooling/config.json", &pooling);
  if (s.ok()) s = ReadOptionalJson(dir + "/modules.json", &modules);
  if (!s.ok()) return s;
  if (pooling.is_object() && !pooling.value("pooling_mode_mean_tokens", false)) {
    return Status::InvalidArgument(dir + "/1_Pooling/config.json: only mean pooling is supported");
  }
  if (modules.is_array()) {
    e->normalize_ = false;
    for (const auto& m : modules) {
      if (m.is_object() && m.value("type", "") == "sentence_transformers.models.Normalize") e->normalize_ = true;
    }
  }
  s = BertModel::Load(dir, options.precision, &e->model_);
  if (!s.ok()) return s;
  s = Tokenizer::Load(dir + "/vocab.txt", &e->tokenizer_);
  if (!s.ok()) return s;
  if (e->tokenizer_->vocab_size() != static_cast<size_t>(e->model_->config().vocab)) {
    return Status::Corruption(dir + "/vocab.txt: " + std::to_string(e->tokenizer_->vocab_size()) +
                              " tokens but the model has " + std::to_string(e->model_->config().vocab));
  }
  size_t msl = options.max_seq_length;
  if (msl == 0) msl = st.is_object() ? st.value("max_seq_length", size_t{256}) : 256;
  e->max_seq_length_ = std::clamp<size_t>(msl, 2, static_cast<size_t>(e->model_->config().max_positions));
  *out = std::move(e);
  return Status::OK();
}

Status Embedder::Embed(const std::vector<std::string>& texts, std::vector<float>* out) const {
  std::vector<std::vector<int32_t>> ids(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) ids[i] = tokenizer_->Encode(texts[i], max_seq_length_);
  return EmbedIds(ids, out);
}

Status Embedder::EmbedIds(const std::vector<std::vector<int32_t>>& ids, std::vector<float>* out) const {
  const size_t d = static_cast<size_t>(dim());
  const size_t vocab = static_cast<size_t>(model_->config().vocab);
  const size_t max_pos = static_cast<size_t>(model_->config().max_positions);
  for (const auto& seq : ids) {
    if (seq.empty() || seq.size() > max_pos) return Status::InvalidArgument("token sequence length out of range");
    for (int32_t t : seq) {
      if (t < 0 || static_cast<size_t>(t) >= vocab) return Status::InvalidArgument("token id out of range");
    }
  }
  out->assign(ids.size() * d, 0.0f);
  if (ids.empty()) return Status::OK();

  // Length bucketing: longest first, so each batch holds similar lengths
  // (attention cost is per sequence) and the big ones start early.
  std::vector<size_t> order(ids.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a].size() > ids[b].size(); });
  std::vector<std::vector<size_t>> batches;
  size_t tokens = 0;
  for (size_t i : order) {
    if (batches.empty() || tokens + ids[i].size() > options_.max_batch_tokens) {
      batches.emplace_back();
      tokens = 0;
    }
    batches.back().push_back(i);
    tokens += ids[i].size();
  }

  auto run_batch = [&](const std::vector<size_t>& batch, std::vector<float>* pooled, int product_threads) {
    std::vector<const std::vector<int32_t>*> seqs;
    for (size_t i : batch) seqs.push_back(&ids[i]);
    pooled->resize(batch.size() * d);
    model_->MeanPooled(seqs, pooled->data(), product_threads);
    for (size_t j = 0; j < batch.size(); ++j) {
      const float* src = pooled->data() + j * d;
      float* dst = out->data() + batch[j] * d;
      float norm = 1.0f;
      if (normalize_) {
        double ss = 0;
        for (size_t c = 0; c < d; ++c) ss += static_cast<double>(src[c]) * src[c];
        // torch.nn.functional.normalize: x / max(||x||, 1e-12)
        norm = static_cast<float>(std::max(std::sqrt(ss), 1e-12));
      }
      for (size_t c = 0; c < d; ++c) dst[c] = src[c] / norm;
    }
  };

  const int threads = std::min<int>(options_.num_threads, static_cast<int>(batches.size()));
  // Every product runs on one OpenBLAS thread: work is split by our own
  // threads (BertModel::MeanPooled's rows and heads, or a batch each).
  SetBlasThreads(1);
  if (threads <= 1) {
    // One batch (a query, an added entry): split across threads only when
    // it is big enough. A split's hand-off costs what it saves on short
    // texts when the other core is busy (with OpenBLAS splitting the
    // products, 2 threads were slower than 1 up to ~130 tokens at load 10:
    // 64 vs 76 ms at 90 words; 86 vs 80 ms at 180 words). When the other
    // cores are idle, splitting pays from the first batch our small-product
    // kernel hands over (load 0.8: 58 tokens 18.0 -> 11.5 ms, 117 tokens
    // 28.8 -> 19.5 ms on 2 threads; bf16 keeps the 192-token rule).
    const bool idle_split = options_.precision == Precision::kFp32 &&
                            tokens > static_cast<size_t>(SmallLinearMaxRows()) && CoresFree(options_.num_threads);
    const int split = tokens >= kBlasSplitTokens || idle_split ? options_.num_threads : 1;
    std::vector<float> pooled;
    for (const auto& b : batches) run_batch(b, &pooled, split);
    return Status::OK();
  }
  // Several batches: one per thread of ours.
  std::atomic<size_t> next{0};
  auto worker = [&] {
    std::vector<float> pooled;
    for (size_t b; (b = next.fetch_add(1)) < batches.size();) run_batch(batches[b], &pooled, 1);
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  return Status::OK();
}

}  // namespace rekall::embed
