#include "embed/tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <sstream>

namespace rekall::embed {
namespace {

// Decodes one code point at `s[*i]`, advancing *i. Invalid or truncated
// sequences become U+FFFD and advance one byte, so the loop always ends and
// the bad bytes are later dropped by the cleaning step like HF drops U+FFFD.
char32_t NextCodePoint(std::string_view s, size_t* i) {
  unsigned char b = static_cast<unsigned char>(s[*i]);
  if (b < 0x80) {
    ++*i;
    return b;
  }
  utf8proc_int32_t cp;
  utf8proc_ssize_t n = utf8proc_iterate(reinterpret_cast<const utf8proc_uint8_t*>(s.data() + *i),
                                        static_cast<utf8proc_ssize_t>(s.size() - *i), &cp);
  if (n <= 0) {
    ++*i;
    return 0xFFFD;
  }
  *i += static_cast<size_t>(n);
  return static_cast<char32_t>(cp);
}

void AppendUtf8(char32_t c, std::string* out) {
  utf8proc_uint8_t buf[4];
  utf8proc_ssize_t n = utf8proc_encode_char(static_cast<utf8proc_int32_t>(c), buf);
  out->append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

utf8proc_category_t Category(char32_t c) {
  return utf8proc_category(static_cast<utf8proc_int32_t>(c));
}

// HF tokenizers' bert normalizer: \t \n \r count as whitespace although they
// are controls; otherwise Rust's char::is_whitespace (the White_Space
// property: the Z* separators plus a few controls that cleaning has already
// removed by the time this matters, but we list them for fidelity).
bool IsWhitespace(char32_t c) {
  if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0x0B || c == 0x0C || c == 0x85) return true;
  if (c < 0x80) return false;
  auto cat = Category(c);
  return cat == UTF8PROC_CATEGORY_ZS || cat == UTF8PROC_CATEGORY_ZL || cat == UTF8PROC_CATEGORY_ZP;
}

// HF: the "Other" categories Cc, Cf, Co, Cs except \t \n \r. Unassigned
// code points (Cn) are kept, and end up as [UNK] (checked against HF).
bool IsControl(char32_t c) {
  if (c == '\t' || c == '\n' || c == '\r') return false;
  if (c < 0x80) return c < 0x20 || c == 0x7F;
  auto cat = Category(c);
  return cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
         cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS;
}

// The CJK blocks BERT isolates (its is_chinese_char; Hangul, kana are not in).
bool IsChinese(char32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
         (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

// BERT punctuation: the ASCII non-alphanumeric printable ranges plus P*.
bool IsPunctuation(char32_t c) {
  if (c < 0x80) return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) || (c >= 123 && c <= 126);
  auto cat = Category(c);
  return cat == UTF8PROC_CATEGORY_PC || cat == UTF8PROC_CATEGORY_PD || cat == UTF8PROC_CATEGORY_PS ||
         cat == UTF8PROC_CATEGORY_PE || cat == UTF8PROC_CATEGORY_PI || cat == UTF8PROC_CATEGORY_PF ||
         cat == UTF8PROC_CATEGORY_PO;
}

// Canonical decomposition of one code point (NFD without reordering; the
// caller reorders the whole string).
void Decompose(char32_t c, std::u32string* out) {
  utf8proc_int32_t buf[32];
  int last_boundclass = 0;
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32,
                                               UTF8PROC_DECOMPOSE, &last_boundclass);
  if (n <= 0 || n > 32) {
    out->push_back(c);
    return;
  }
  for (utf8proc_ssize_t k = 0; k < n; ++k) out->push_back(static_cast<char32_t>(buf[k]));
}

int CombiningClass(char32_t c) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c))->combining_class;
}

// NFD's canonical ordering: stable sort of each run of non-starters by
// combining class (the runs are short, so insertion sort).
void CanonicalOrder(std::u32string* s) {
  for (size_t i = 1; i < s->size(); ++i) {
    int cc = CombiningClass((*s)[i]);
    if (cc == 0) continue;
    size_t j = i;
    while (j > 0) {
      int prev = CombiningClass((*s)[j - 1]);
      if (prev == 0 || prev <= cc) break;
      std::swap((*s)[j - 1], (*s)[j]);
      --j;
    }
  }
}

}  // namespace

Status Tokenizer::Load(const std::string& vocab_path, std::unique_ptr<Tokenizer>* out) {
  // One read of the whole file (230 KB), then its lines.
  std::ifstream in(vocab_path, std::ios::binary);
  if (!in) return Status::NotFound("cannot open vocabulary " + vocab_path);
  std::ostringstream read;
  read << in.rdbuf();
  if (in.bad()) return Status::IOError("error reading vocabulary " + vocab_path);
  const std::string text = read.str();
  std::vector<std::string> vocab;
  vocab.reserve(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1);
  // As getline: '\n' ends a line, and a last line without one still counts.
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    size_t len = end - at;
    if (len > 0 && text[at + len - 1] == '\r') --len;
    vocab.emplace_back(text, at, len);
    at = end + 1;
  }
  Status s = FromVocab(std::move(vocab), out);
  if (!s.ok()) return Status::Corruption(vocab_path + ": " + s.message());
  return s;
}

Status Tokenizer::FromVocab(std::vector<std::string> vocab, std::unique_ptr<Tokenizer>* out) {
  std::unique_ptr<Tokenizer> t(new Tokenizer());
  t->vocab_ = std::move(vocab);
  size_t slots = 2;
  while (slots < 2 * t->vocab_.size()) slots *= 2;
  t->slots_.assign(slots, -1);
  for (size_t i = 0; i < t->vocab_.size(); ++i) {
    // First occurrence wins, as in HF's vocab loading of duplicate lines.
    int32_t& slot = t->slots_[t->SlotOf(t->vocab_[i])];
    if (slot < 0) slot = static_cast<int32_t>(i);
  }
  t->cls_id_ = t->Find("[CLS]");
  t->sep_id_ = t->Find("[SEP]");
  t->unk_id_ = t->Find("[UNK]");
  if (t->cls_id_ < 0 || t->sep_id_ < 0 || t->unk_id_ < 0) {
    return Status::InvalidArgument("vocabulary lacks [CLS], [SEP] or [UNK]");
  }
  *out = std::move(t);
  return Status::OK();
}

size_t Tokenizer::SlotOf(std::string_view token) const {
  // Linear probing in a table at most half full: a free slot ends the run.
  const size_t mask = slots_.size() - 1;
  for (size_t i = std::hash<std::string_view>()(token) & mask;; i = (i + 1) & mask) {
    const int32_t id = slots_[i];
    if (id < 0 || vocab_[static_cast<size_t>(id)] == token) return i;
  }
}

int32_t Tokenizer::Find(std::string_view token) const { return slots_[SlotOf(token)]; }

template <typename Fn>
void Tokenizer::ForEachWord(std::string_view text, Fn&& fn) const {
  // Normalise into `norm` (clean, isolate CJK, NFD, drop Mn, lowercase), in
  // HF's order; then split on whitespace and punctuation.
  std::u32string cleaned;
  cleaned.reserve(text.size() + 8);
  bool all_ascii = true;
  for (size_t i = 0; i < text.size();) {
    char32_t c = NextCodePoint(text, &i);
    if (c == 0 || c == 0xFFFD || IsControl(c)) continue;
    if (IsWhitespace(c)) c = ' ';
    if (c >= 0x80) all_ascii = false;
    if (c >= 0x80 && IsChinese(c)) {
      cleaned.push_back(' ');
      cleaned.push_back(c);
      cleaned.push_back(' ');
    } else {
      cleaned.push_back(c);
    }
  }
  std::u32string norm;
  if (all_ascii) {
    norm = std::move(cleaned);
  } else {
    norm.reserve(cleaned.size() + 8);
    for (char32_t c : cleaned) {
      if (c < 0x80) norm.push_back(c);
      else Decompose(c, &norm);
    }
    CanonicalOrder(&norm);
    // Strip accents (drop Mn) and lowercase, compacting in place.
    size_t w = 0;
    for (char32_t c : norm) {
      if (c >= 0x80 && Category(c) == UTF8PROC_CATEGORY_MN) continue;
      norm[w++] = c;
    }
    norm.resize(w);
  }
  for (char32_t& c : norm) {
    if (c < 0x80) {
      if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
    } else {
      c = static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c)));
    }
  }

  std::u32string word;
  for (char32_t c : norm) {
    if (c == ' ' || (c >= 0x80 && IsWhitespace(c))) {
      if (!word.empty() && !fn(word)) return;
      word.clear();
    } else if (IsPunctuation(c)) {
      if (!word.empty() && !fn(word)) return;
      word.assign(1, c);
      if (!fn(word)) return;
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) fn(word);
}

void Tokenizer::WordPiece(const std::u32string& word, std::vector<int32_t>* ids) const {
  constexpr size_t kMaxCharsPerWord = 100;
  if (word.size() > kMaxCharsPerWord) {
    ids->push_back(unk_id_);
    return;
  }
  // UTF-8 of the word with the byte offset of each character, so candidate
  // pieces are byte ranges.
  std::string utf8;
  std::vector<size_t> offs;
  offs.reserve(word.size() + 1);
  for (char32_t c : word) {
    offs.push_back(utf8.size());
    AppendUtf8(c, &utf8);
  }
  offs.push_back(utf8.size());

  size_t first = ids->size();
  std::string key;
  size_t start = 0;
  while (start < word.size()) {
    int32_t found = -1;
    size_t end = word.size();
    for (; end > start; --end) {
      key.assign(start > 0 ? "##" : "");
      key.append(utf8, offs[start], offs[end] - offs[start]);
      found = Find(key);
      if (found >= 0) break;
    }
    if (found < 0) {
      // One unmatched piece makes the whole word unknown (HF behaviour).
      ids->resize(first);
      ids->push_back(unk_id_);
      return;
    }
    ids->push_back(found);
    start = end;
  }
}

std::vector<int32_t> Tokenizer::Encode(std::string_view text, size_t max_len) const {
  if (max_len < 2) max_len = 2;
  const size_t budget = max_len - 2;
  std::vector<int32_t> ids;
  ids.push_back(cls_id_);
  ForEachWord(text, [&](const std::u32string& word) {
    WordPiece(word, &ids);
    // Stop normalising once the budget is used: long documents cost no more
    // than their first max_len tokens.
    return ids.size() - 1 < budget;
  });
  if (ids.size() - 1 > budget) ids.resize(budget + 1);
  ids.push_back(sep_id_);
  return ids;
}

std::vector<std::string> Tokenizer::PreTokenize(std::string_view text) const {
  std::vector<std::string> words;
  ForEachWord(text, [&](const std::u32string& word) {
    std::string s;
    for (char32_t c : word) AppendUtf8(c, &s);
    words.push_back(std::move(s));
    return true;
  });
  return words;
}

}  // namespace rekall::embed
