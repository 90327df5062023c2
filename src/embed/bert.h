// BERT encoder (all-MiniLM-L6-v2 shape) over weights mmap'ed from
// model.safetensors. Internal to the embed component: callers use Embedder.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

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
  // tensor's dtype and shape against the config. Only Precision::kFp32 runs
  // yet.
  static Status Load(const std::string& dir, Precision precision, std::unique_ptr<BertModel>* out);

  // Runs the encoder on the sequences (token ids, each 1..max_positions long,
  // ids < vocab) packed one after another without padding, and writes for
  // each the mean of its last hidden states (dim() floats, not normalised).
  // Thread-safe: all state is per call.
  void MeanPooled(const std::vector<const std::vector<int32_t>*>& seqs, float* out) const;

  const BertConfig& config() const { return cfg_; }
  int dim() const { return cfg_.hidden; }

 private:
  struct Layer {
    const float *wq, *bq, *wk, *bk, *wv, *bv, *wo, *bo, *ln1_g, *ln1_b;
    const float *w1, *b1, *w2, *b2, *ln2_g, *ln2_b;
  };
  BertModel() = default;

  BertConfig cfg_;
  std::unique_ptr<SafeTensors> file_;
  const float *word_ = nullptr, *pos_ = nullptr, *type_ = nullptr, *emb_ln_g_ = nullptr, *emb_ln_b_ = nullptr;
  std::vector<Layer> layers_;
};

}  // namespace rekall::embed
