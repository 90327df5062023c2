// BERT encoder (all-MiniLM-L6-v2 shape) over weights mmap'ed from
// model.safetensors. Internal to the embed component: callers use Embedder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "embed/linear_bf16.h"
#include "embed/safetensors.h"
#include "util/precision.h"
#include "util/status.h"

namespace rekall::embed {

struct BertConfig {
  int hidden = 384;
  int layers = 6;
  int heads = 12;
  int intermediate = 1536;
  int vocab = 30522;
  int max_positions = 512;
  int type_vocab = 2;
  float layer_norm_eps = 1e-12f;

  // Reads a HF config.json; rejects models this code cannot run (not BERT,
  // not "gelu", hidden not divisible by heads...).
  static Status FromFile(const std::string& path, BertConfig* out);
};

class BertModel {
 public:
  // Loads `dir`/config.json and `dir`/model.safetensors, checking every
  // tensor's dtype and shape against the config. With Precision::kBf16 the
  // six dense weights of each layer are rounded to bf16 and packed here,
  // once, and their float32 pages in the mapping are let go (the model then
  // holds about half the memory); embeddings, biases and LayerNorm stay
  // float32. kInt8 is refused (util/precision.h says why).
  static Status Load(const std::string& dir, Precision precision, std::unique_ptr<BertModel>* out);

  // Runs the encoder on the sequences (token ids, each 1..max_positions long,
  // ids < vocab) packed one after another without padding, and writes for
  // each the mean of its last hidden states (dim() floats, not normalised).
  // `threads` > 1 splits the work across that many threads (rows of the
  // products, heads of attention); each product then runs on one thread, so
  // the caller sets OpenBLAS to one.
  // Thread-safe: all state is per call.
  void MeanPooled(const std::vector<const std::vector<int32_t>*>& seqs, float* out, int threads = 1) const;

  const BertConfig& config() const { return cfg_; }
  int dim() const { return cfg_.hidden; }
  Precision precision() const { return precision_; }

 private:
  // A dense layer's weight, n x k: the float32 matrix in the mapping, or
  // (bf16) its packed copy.
  struct Dense {
    const float* f32 = nullptr;
    Bf16Matrix bf16;
    int n = 0, k = 0;
  };
  struct Layer {
    Dense q, k, v, o, up, down;
    const float *bq, *bk, *bv, *bo, *ln1_g, *ln1_b, *b1, *b2, *ln2_g, *ln2_b;
  };
  class Pass;  // one call's activations and work split (bert.cc)
  BertModel() = default;
  // Reads the weight `name` (n x k) into *d in this model's precision.
  Status LoadDense(const std::string& name, int n, int k, Dense* d);
  // y (m x d.n) = x (m x d.k) . weight^T, no bias.
  static void Apply(const Dense& d, const float* x, float* y, int m, int threads);

  BertConfig cfg_;
  Precision precision_ = Precision::kFp32;
  std::unique_ptr<SafeTensors> file_;
  const float *word_ = nullptr, *pos_ = nullptr, *type_ = nullptr, *emb_ln_g_ = nullptr, *emb_ln_b_ = nullptr;
  std::vector<Layer> layers_;
};

}  // namespace rekall::embed
