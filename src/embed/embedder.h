// In-process sentence embedder equal to sentence-transformers'
// all-MiniLM-L6-v2: WordPiece tokenizer, 6-layer BERT, mean pooling, L2
// normalisation. Embed() is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "embed/tokenizer.h"
#include "util/precision.h"
#include "util/status.h"

namespace rekall::embed {

class BertModel;

struct EmbedderOptions {
  // Threads used by one Embed() call: several batches run on our own threads
  // (single-threaded BLAS each); a single batch uses BLAS threads. 0 = all cores.
  int num_threads = 1;
  // Tokens per text including [CLS] and [SEP]; 0 = sentence_bert_config.json's
  // max_seq_length (256 for all-MiniLM-L6-v2).
  size_t max_seq_length = 0;
  // Texts are sorted by length and packed into batches of at most this many
  // tokens. Activations take ~14 KB per token and thread, so this bounds the
  // memory; 512 rows keep OpenBLAS efficient (bench: 2048 was not faster and
  // pushed peak RSS to 146 MB with 2 threads, 512 gives 85 MB).
  size_t max_batch_tokens = 512;
  // The dense layers' arithmetic: fp32 is the model's own, bit for bit; bf16
  // rounds weights (once, at load) and activations to bfloat16 and sums in
  // float32 (bert.h, linear_bf16.h). A precision that does not ship
  // (util/precision.h) makes Load fail.
  Precision precision = Precision::kFp32;
};

class Embedder {
 public:
  // Loads a sentence-transformers folder: config.json, model.safetensors,
  // vocab.txt, and the optional sentence_bert_config.json, 1_Pooling/,
  // modules.json (which say the pooling is mean and whether to normalise).
  static Status Load(const std::string& model_dir, const EmbedderOptions& options, std::unique_ptr<Embedder>* out);
  ~Embedder();

  // out receives texts.size() * dim() floats, row-major, in input order.
  Status Embed(const std::vector<std::string>& texts, std::vector<float>* out) const;
  // Same from token ids (each starting with [CLS] and ending with [SEP]).
  Status EmbedIds(const std::vector<std::vector<int32_t>>& ids, std::vector<float>* out) const;

  int dim() const;
  size_t max_seq_length() const { return max_seq_length_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  Embedder() = default;
  EmbedderOptions options_;
  size_t max_seq_length_ = 256;
  bool normalize_ = true;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::unique_ptr<BertModel> model_;
};

}  // namespace rekall::embed
