#include "embed/bert.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

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

void BertModel::MeanPooled(const std::vector<const std::vector<int32_t>*>& seqs, float* out, int threads) const {
  const int H = cfg_.hidden, I = cfg_.intermediate, nh = cfg_.heads, hd = H / nh;
  const float eps = cfg_.layer_norm_eps;
  std::vector<size_t> offs(seqs.size() + 1, 0);
  size_t max_len = 0;
  for (size_t i = 0; i < seqs.size(); ++i) {
    offs[i + 1] = offs[i] + seqs[i]->size();
    max_len = std::max(max_len, seqs[i]->size());
  }
  const int T = static_cast<int>(offs.back());
  if (T == 0) return;

  // One allocation for every activation of this call.
  const size_t th = static_cast<size_t>(T) * H;
  // Not zero-filled: every buffer is written before it is read.
  std::unique_ptr<float[]> buf(new float[5 * th + static_cast<size_t>(T) * I + max_len * max_len]);
  float* x = buf.get();
  float* q = x + th;
  float* k = q + th;
  float* v = k + th;
  float* tmp = v + th;  // attention context, then sub-layer outputs
  float* inter = tmp + th;
  float* scores = inter + static_cast<size_t>(T) * I;

  // Embeddings: word + position + token type 0, then LayerNorm.
  for (size_t s = 0; s < seqs.size(); ++s) {
    const std::vector<int32_t>& ids = *seqs[s];
    for (size_t p = 0; p < ids.size(); ++p) {
      float* row = x + (offs[s] + p) * H;
      const float* w = word_ + static_cast<size_t>(ids[p]) * H;
      const float* ps = pos_ + p * H;
      for (int c = 0; c < H; ++c) row[c] = w[c] + ps[c] + type_[c];
    }
  }
  kernels::LayerNorm(x, emb_ln_g_, emb_ln_b_, T, H, eps);

  // The 1/sqrt(d) attention scale is folded into Q's bias step.
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (const Layer& L : layers_) {
    Apply(L.q, x, q, T, threads);
    kernels::AddBias(q, L.bq, T, H, scale);
    Apply(L.k, x, k, T, threads);
    kernels::AddBias(k, L.bk, T, H, 1.0f);
    Apply(L.v, x, v, T, threads);
    kernels::AddBias(v, L.bv, T, H, 1.0f);
    // Each sequence attends only to itself: with packing there is no padding
    // to mask, which equals HF's masked attention over a padded batch.
    for (size_t s = 0; s < seqs.size(); ++s) {
      const int n = static_cast<int>(seqs[s]->size());
      const size_t o = offs[s] * H;
      for (int hh = 0; hh < nh; ++hh) {
        const size_t c0 = o + static_cast<size_t>(hh) * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, hd, 1.0f, q + c0, H, k + c0, H, 0.0f, scores, n);
        kernels::SoftmaxRows(scores, n, n, n);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hd, n, 1.0f, scores, n, v + c0, H, 0.0f,
                    tmp + c0, H);
      }
    }
    Apply(L.o, tmp, q, T, threads);  // q is free again: reuse it as output
    kernels::AddBiasResidualLayerNorm(x, q, L.bo, L.ln1_g, L.ln1_b, T, H, eps);
    Apply(L.up, x, inter, T, threads);
    kernels::AddBiasGelu(inter, L.b1, T, I);
    Apply(L.down, inter, q, T, threads);
    kernels::AddBiasResidualLayerNorm(x, q, L.b2, L.ln2_g, L.ln2_b, T, H, eps);
  }

  // Mean pooling over each sequence's tokens (all of them are real tokens).
  for (size_t s = 0; s < seqs.size(); ++s) {
    float* o = out + s * H;
    std::fill(o, o + H, 0.0f);
    for (size_t p = offs[s]; p < offs[s + 1]; ++p) {
      const float* row = x + p * H;
      for (int c = 0; c < H; ++c) o[c] += row[c];
    }
    const float inv = 1.0f / static_cast<float>(offs[s + 1] - offs[s]);
    for (int c = 0; c < H; ++c) o[c] *= inv;
  }
}

}  // namespace rekall::embed
