#include "embed/bert.h"

#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "embed/kernels.h"
#include "embed/linear.h"

namespace rekall::embed {

Status BertConfig::FromFile(const std::string& path, BertConfig* out) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot open model config " + path);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Status::Corruption(path + ": not a JSON object");
  BertConfig c;
  auto get_int = [&](const char* key, int* v) -> Status {
    if (!j.contains(key)) return Status::OK();  // keep the BERT default
    if (!j[key].is_number_integer() || j[key].get<int64_t>() <= 0 || j[key].get<int64_t>() > (1 << 20)) {
      return Status::Corruption(path + ": bad " + key);
    }
    *v = j[key].get<int>();
    return Status::OK();
  };
  for (auto [key, v] : {std::pair<const char*, int*>{"hidden_size", &c.hidden},
                        {"num_hidden_layers", &c.layers},
                        {"num_attention_heads", &c.heads},
                        {"intermediate_size", &c.intermediate},
                        {"vocab_size", &c.vocab},
                        {"max_position_embeddings", &c.max_positions},
                        {"type_vocab_size", &c.type_vocab}}) {
    Status s = get_int(key, v);
    if (!s.ok()) return s;
  }
  if (j.contains("layer_norm_eps")) {
    if (!j["layer_norm_eps"].is_number()) return Status::Corruption(path + ": bad layer_norm_eps");
    c.layer_norm_eps = j["layer_norm_eps"].get<float>();
  }
  if (j.contains("model_type") && j["model_type"] != "bert") {
    return Status::InvalidArgument(path + ": model_type is not bert");
  }
  if (j.contains("hidden_act") && j["hidden_act"] != "gelu") {
    return Status::InvalidArgument(path + ": only hidden_act \"gelu\" is supported");
  }
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute") {
    return Status::InvalidArgument(path + ": only absolute position embeddings are supported");
  }
  if (c.hidden % c.heads != 0) return Status::Corruption(path + ": hidden_size not divisible by heads");
  *out = c;
  return Status::OK();
}

Status BertModel::LoadDense(const std::string& name, int n, int k, Dense* d) {
  const float* w = nullptr;
  Status s = file_->GetF32(name, {n, k}, &w);
  if (!s.ok()) return s;
  d->n = n;
  d->k = k;
  if (precision_ == Precision::kFp32) {
    d->f32 = w;
    return Status::OK();
  }
  if (!Bf16Matrix::Pack(w, n, k, &d->bf16)) {
    return Status::InvalidArgument(file_->path() + ": tensor '" + name + "' is " + std::to_string(n) + " x " +
                                   std::to_string(k) + ", but precision bf16 needs both multiples of 32");
  }
  file_->DropPages(w, static_cast<size_t>(n) * k * sizeof(float));
  return Status::OK();
}

void BertModel::Apply(const Dense& d, const float* x, float* y, int m, int threads) {
  if (d.f32) {
    Linear(x, d.f32, nullptr, y, m, d.n, d.k);
  } else {
    LinearBf16(x, d.bf16, nullptr, y, m, Bf16Kernel::kAuto, threads);
  }
}

Status BertModel::Load(const std::string& dir, Precision precision, std::unique_ptr<BertModel>* out) {
  if (const char* why = PrecisionRefusal(precision)) return Status::InvalidArgument(why);
  std::unique_ptr<BertModel> m(new BertModel());
  m->precision_ = precision;
  Status s = BertConfig::FromFile(dir + "/config.json", &m->cfg_);
  if (!s.ok()) return s;
  s = SafeTensors::Open(dir + "/model.safetensors", &m->file_);
  if (!s.ok()) return s;
  const int64_t h = m->cfg_.hidden, in = m->cfg_.intermediate;
  SafeTensors& f = *m->file_;
  auto get = [&](const std::string& name, std::vector<int64_t> shape, const float** p) {
    if (s.ok()) s = f.GetF32(name, shape, p);
  };
  auto dense = [&](const std::string& name, int64_t n, int64_t k, Dense* d) {
    if (s.ok()) s = m->LoadDense(name, static_cast<int>(n), static_cast<int>(k), d);
  };
  get("embeddings.word_embeddings.weight", {m->cfg_.vocab, h}, &m->word_);
  get("embeddings.position_embeddings.weight", {m->cfg_.max_positions, h}, &m->pos_);
  get("embeddings.token_type_embeddings.weight", {m->cfg_.type_vocab, h}, &m->type_);
  get("embeddings.LayerNorm.weight", {h}, &m->emb_ln_g_);
  get("embeddings.LayerNorm.bias", {h}, &m->emb_ln_b_);
  m->layers_.resize(m->cfg_.layers);
  for (int i = 0; i < m->cfg_.layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    Layer& L = m->layers_[i];
    dense(p + "attention.self.query.weight", h, h, &L.q);
    get(p + "attention.self.query.bias", {h}, &L.bq);
    dense(p + "attention.self.key.weight", h, h, &L.k);
    get(p + "attention.self.key.bias", {h}, &L.bk);
    dense(p + "attention.self.value.weight", h, h, &L.v);
    get(p + "attention.self.value.bias", {h}, &L.bv);
    dense(p + "attention.output.dense.weight", h, h, &L.o);
    get(p + "attention.output.dense.bias", {h}, &L.bo);
    get(p + "attention.output.LayerNorm.weight", {h}, &L.ln1_g);
    get(p + "attention.output.LayerNorm.bias", {h}, &L.ln1_b);
    dense(p + "intermediate.dense.weight", in, h, &L.up);
    get(p + "intermediate.dense.bias", {in}, &L.b1);
    dense(p + "output.dense.weight", h, in, &L.down);
    get(p + "output.dense.bias", {h}, &L.b2);
    get(p + "output.LayerNorm.weight", {h}, &L.ln2_g);
    get(p + "output.LayerNorm.bias", {h}, &L.ln2_b);
  }
  if (!s.ok()) return s;
  *out = std::move(m);
  return Status::OK();
}

namespace {

// A barrier for a pass's workers that spins a little before it sleeps: a
// layer waits 7 times, and std::barrier's sleep and wake-up cost ~1 ms per
// text of 65 tokens on 2 threads (11.0 against 10.1 ms with OpenBLAS's own
// split; its threads spin too). The spin is bounded (~20 us), so a worker
// whose partner lost its core still goes to sleep.
class SpinBarrier {
 public:
  explicit SpinBarrier(int n) : n_(n) {}
  void ArriveAndWait() {
    const uint32_t gen = gen_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) {
      arrived_.store(0, std::memory_order_relaxed);
      gen_.store(gen + 1, std::memory_order_release);
      gen_.notify_all();
      return;
    }
    for (int i = 0; i < kSpins; ++i) {
      if (gen_.load(std::memory_order_acquire) != gen) return;
      _mm_pause();
    }
    while (gen_.load(std::memory_order_acquire) == gen) gen_.wait(gen, std::memory_order_acquire);
  }

 private:
  static constexpr int kSpins = 2000;  // _mm_pause is ~10 ns (and more on recent Intel cores)
  const int n_;
  std::atomic<int> arrived_{0};
  std::atomic<uint32_t> gen_{0};
};

}  // namespace

// One MeanPooled call: its activations, and the split of its work across
// `workers` threads (one OpenBLAS thread each). Attention needs all the keys
// and values of a sequence, so it waits for the projections of every row,
// and each worker then takes its share of the (sequence, head) pairs. The
// dense products split by output columns: each worker reads and packs only
// its share of the weights (split by rows, both packed all of them: 22% of a
// 256-token text's samples). The element-wise steps work on the worker's
// rows, or on its columns where they need no whole row. bf16 keeps one
// worker, its products splitting their columns themselves.
//
// Why our own split and not OpenBLAS's threads for a lone long text (an
// added note): OpenBLAS splits each product but leaves attention, softmax,
// GELU and LayerNorm on one thread, and its workers hand off through
// sched_yield; a 256-token note took 54 ms on 1 thread and 35-39 ms on 2
// (perf: 17% of the samples in the scheduler and sched_yield). With this
// split, bench_embed --mode query --threads 2, load 1.1-1.4, old against
// new in one run: 230 tokens 36.1 -> 29.1 ms, 164: 26.5 -> 20.8, 117: 22.1
// -> 16.5, 65: 9.0 -> 9.7 / 9.7 -> 9.8, 52: 10.2 -> 8.7.
class BertModel::Pass {
 public:
  Pass(const BertModel& m, const std::vector<const std::vector<int32_t>*>& seqs, int workers)
      : m_(m), seqs_(seqs), workers_(workers) {
    const BertConfig& c = m.cfg_;
    H_ = c.hidden;
    I_ = c.intermediate;
    nh_ = c.heads;
    hd_ = H_ / nh_;
    offs_.assign(seqs.size() + 1, 0);
    for (size_t i = 0; i < seqs.size(); ++i) {
      offs_[i + 1] = offs_[i] + seqs[i]->size();
      max_len_ = std::max(max_len_, seqs[i]->size());
    }
    T_ = static_cast<int>(offs_.back());
    // bf16 products split their columns on threads of their own: one worker
    // (a split by rows would change which bf16 kernel a product takes, and
    // with it the rounding: 2e-3 on a 3-token text).
    if (m.precision_ != Precision::kFp32) std::swap(workers_, product_threads_);
    workers_ = std::max(1, std::min(workers_, T_));
    // One allocation for every activation of this call; not zero-filled:
    // every buffer is written before it is read.
    const size_t th = static_cast<size_t>(T_) * H_, scores = max_len_ * max_len_;
    buf_.reset(new float[5 * th + static_cast<size_t>(T_) * I_ + scores * workers_]);
    x_ = buf_.get();
    q_ = x_ + th;
    k_ = q_ + th;
    v_ = k_ + th;
    tmp_ = v_ + th;  // attention context, then sub-layer outputs
    inter_ = tmp_ + th;
    scores_ = inter_ + static_cast<size_t>(T_) * I_;
  }

  int tokens() const { return T_; }

  // Runs the encoder, the caller being worker 0.
  void Run() {
    if (workers_ == 1) return Work(0, nullptr);
    SpinBarrier sync(workers_);
    std::vector<std::thread> pool;
    for (int w = 1; w < workers_; ++w) pool.emplace_back([this, w, &sync] { Work(w, &sync); });
    Work(0, &sync);
    for (auto& t : pool) t.join();
  }

  // The mean of each sequence's last hidden states.
  void Pool(float* out) const {
    for (size_t s = 0; s < seqs_.size(); ++s) {
      float* o = out + s * H_;
      std::fill(o, o + H_, 0.0f);
      for (size_t p = offs_[s]; p < offs_[s + 1]; ++p) {
        const float* row = x_ + p * H_;
        for (int c = 0; c < H_; ++c) o[c] += row[c];
      }
      const float inv = 1.0f / static_cast<float>(offs_[s + 1] - offs_[s]);
      for (int c = 0; c < H_; ++c) o[c] *= inv;
    }
  }

 private:
  // A worker's share of [0, n): rows of the call, or columns of a product
  // (multiples of 16 floats apart, so each share starts a cache line).
  struct Range {
    int begin, end;
  };
  Range Share(int n, int w, int align) const {
    auto cut = [&](int i) { return i == workers_ ? n : static_cast<int>(static_cast<int64_t>(n) * i / workers_) / align * align; };
    return {cut(w), cut(w + 1)};
  }

  void Work(int w, SpinBarrier* sync) {
    const Range rows = Share(T_, w, 1);
    auto wait = [sync] {
      if (sync) sync->ArriveAndWait();
    };
    Embeddings(rows);
    wait();
    const float eps = m_.cfg_.layer_norm_eps;
    // The 1/sqrt(d) attention scale is folded into Q's bias step.
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd_));
    for (const Layer& L : m_.layers_) {
      Product(L.q, Then::kBias, L.bq, scale, x_, q_, H_, w);
      Product(L.k, Then::kBias, L.bk, 1.0f, x_, k_, H_, w);
      Product(L.v, Then::kBias, L.bv, 1.0f, x_, v_, H_, w);
      wait();
      Attention(w);
      wait();
      Product(L.o, Then::kNothing, nullptr, 1.0f, tmp_, q_, H_, w);  // q is free again: reuse it as output
      wait();
      kernels::AddBiasResidualLayerNorm(Row(x_, rows), Row(q_, rows), L.bo, L.ln1_g, L.ln1_b, Count(rows), H_, eps);
      wait();
      Product(L.up, Then::kBiasGelu, L.b1, 1.0f, x_, inter_, I_, w);
      wait();
      Product(L.down, Then::kNothing, nullptr, 1.0f, inter_, q_, H_, w);
      wait();
      kernels::AddBiasResidualLayerNorm(Row(x_, rows), Row(q_, rows), L.b2, L.ln2_g, L.ln2_b, Count(rows), H_, eps);
      wait();
    }
  }

  float* Row(float* m, Range rows) const { return m + static_cast<size_t>(rows.begin) * H_; }
  static size_t Count(Range r) { return static_cast<size_t>(r.end - r.begin); }

  // Word + position + token type 0, then LayerNorm.
  void Embeddings(Range rows) {
    for (size_t s = 0; s < seqs_.size(); ++s) {
      const std::vector<int32_t>& ids = *seqs_[s];
      for (size_t p = 0; p < ids.size(); ++p) {
        const size_t r = offs_[s] + p;
        if (r < size_t(rows.begin) || r >= size_t(rows.end)) continue;
        float* row = x_ + r * H_;
        const float* wv = m_.word_ + static_cast<size_t>(ids[p]) * H_;
        const float* ps = m_.pos_ + p * H_;
        for (int c = 0; c < H_; ++c) row[c] = wv[c] + ps[c] + m_.type_[c];
      }
    }
    kernels::LayerNorm(Row(x_, rows), m_.emb_ln_g_, m_.emb_ln_b_, Count(rows), H_, m_.cfg_.layer_norm_eps);
  }

  // What follows a product on the same share of y.
  enum class Then { kNothing, kBias, kBiasGelu };

  // y = in . d^T for this worker's share; then, on that share, y = (y +
  // bias) * scale (kBias) or GELU(y + bias) (kBiasGelu).
  void Product(const Dense& d, Then then, const float* bias, float scale, const float* in, float* y, int ld, int w) {
    auto finish = [&](float* part, size_t n_rows, size_t n_cols, const float* b) {
      if (then == Then::kBias) kernels::AddBias(part, b, n_rows, n_cols, scale);
      if (then == Then::kBiasGelu) kernels::AddBiasGelu(part, b, n_rows, n_cols);
    };
    if (workers_ == 1) {
      Apply(d, in, y, T_, product_threads_);
      finish(y, T_, ld, bias);
      return;
    }
    // Several workers only in fp32 (see the constructor): d.f32 is set.
    const Range cols = Share(d.n, w, 16);
    if (cols.end <= cols.begin) return;
    LinearLd(in, d.f32 + static_cast<size_t>(cols.begin) * d.k, nullptr, y + cols.begin, T_, cols.end - cols.begin,
             d.k, ld);
    if (then == Then::kNothing) return;
    for (int r = 0; r < T_; ++r) finish(y + static_cast<size_t>(r) * ld + cols.begin, 1, Count(cols), bias + cols.begin);
  }

  // Each sequence attends only to itself: with packing there is no padding
  // to mask, which equals HF's masked attention over a padded batch.
  void Attention(int w) {
    float* scores = scores_ + max_len_ * max_len_ * w;
    const size_t pairs = seqs_.size() * nh_;
    for (size_t p = w; p < pairs; p += workers_) {
      const size_t s = p / nh_;
      const int n = static_cast<int>(seqs_[s]->size());
      const size_t c0 = offs_[s] * H_ + (p % nh_) * hd_;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd_, 1.0f, q_ + c0, H_, k_ + c0, H_, 0.0f, scores, n);
      kernels::SoftmaxRows(scores, n, n, n);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd_, n, 1.0f, scores, n, v_ + c0, H_, 0.0f, tmp_ + c0,
                  H_);
    }
  }

  const BertModel& m_;
  const std::vector<const std::vector<int32_t>*>& seqs_;
  int workers_;
  int product_threads_ = 1;
  int H_, I_, nh_, hd_, T_ = 0;
  std::vector<size_t> offs_;
  size_t max_len_ = 0;
  std::unique_ptr<float[]> buf_;
  float *x_, *q_, *k_, *v_, *tmp_, *inter_, *scores_;
};

void BertModel::MeanPooled(const std::vector<const std::vector<int32_t>*>& seqs, float* out, int threads) const {
  Pass pass(*this, seqs, threads);
  if (pass.tokens() == 0) return;
  pass.Run();
  pass.Pool(out);
}

}  // namespace rekall::embed
