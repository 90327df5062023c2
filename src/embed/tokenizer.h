// BERT uncased WordPiece tokenizer, equal to the Hugging Face "fast" tokenizer
// configured by all-MiniLM-L6-v2's tokenizer.json (BertNormalizer with
// clean_text, handle_chinese_chars, lowercase and accent stripping;
// BertPreTokenizer; WordPiece with "##" continuations; [CLS] A [SEP]).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace rekall::embed {

class Tokenizer {
 public:
  // Reads one token a line from `vocab_path` (vocab.txt); the line number is
  // the id. Needs [CLS], [SEP] and [UNK].
  static Status Load(const std::string& vocab_path, std::unique_ptr<Tokenizer>* out);
  // Same from the vocabulary held in memory (tests, embedded models).
  static Status FromVocab(std::vector<std::string> vocab, std::unique_ptr<Tokenizer>* out);

  // Token ids of `text`: [CLS] word pieces [SEP], at most `max_len` ids in all
  // (max_len >= 2). Invalid UTF-8 bytes are read as U+FFFD, which the
  // cleaning step drops, so any byte string is accepted.
  std::vector<int32_t> Encode(std::string_view text, size_t max_len = 256) const;

  // The words left after normalisation and pre-tokenisation (for tests).
  std::vector<std::string> PreTokenize(std::string_view text) const;

  int cls_id() const { return cls_id_; }
  int sep_id() const { return sep_id_; }
  int unk_id() const { return unk_id_; }
  size_t vocab_size() const { return vocab_.size(); }
  const std::string& token(int id) const { return vocab_[id]; }

 private:
  Tokenizer() = default;
  // Appends the WordPiece ids of one pre-tokenized word.
  void WordPiece(const std::u32string& word, std::vector<int32_t>* ids) const;
  // Splits `text` into normalised words; calls `fn(word)` for each.
  template <typename Fn>
  void ForEachWord(std::string_view text, Fn&& fn) const;

  // The index in slots_ of the slot holding `token`'s id, or of the free
  // one where it would go (FromVocab fills it).
  size_t SlotOf(std::string_view token) const;
  // The id of `token`, or -1.
  int32_t Find(std::string_view token) const;

  std::vector<std::string> vocab_;
  // Token ids by hash of the token, open addressing (-1: free), at most half
  // full: one allocation to build and to free. A node-based map of the
  // 30,522 tokens was 7% of a cold `rekall search`'s CPU to build, and most
  // of the 4.6% its teardown took besides unmapping the weights (perf).
  std::vector<int32_t> slots_;
  int32_t cls_id_ = -1, sep_id_ = -1, unk_id_ = -1;
};

}  // namespace rekall::embed
