#include "store/keywords.h"

#include <algorithm>
#include <cctype>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace rekall::store {

namespace {

// Words too common to trigger anything: English and French function words,
// and words every programming note uses.
const std::unordered_set<std::string_view>& StopWords() {
  static const std::unordered_set<std::string_view> kWords = {
      // English
      "the", "and", "for", "are", "but", "not", "you", "all", "any", "can", "had", "her", "was", "one", "our",
      "out", "has", "him", "his", "how", "its", "may", "new", "now", "old", "see", "two", "way", "who", "did",
      "get", "got", "let", "put", "say", "she", "too", "use", "used", "using", "with", "this", "that", "from",
      "they", "them", "then", "than", "there", "their", "these", "those", "what", "when", "where", "which",
      "while", "will", "would", "could", "should", "have", "been", "being", "were", "into", "onto", "also",
      "just", "only", "some", "such", "more", "most", "other", "over", "very", "each", "after", "before",
      "about", "again", "because", "does", "doing", "done", "here", "same", "both", "between", "through",
      "under", "until", "your", "yours", "mine", "ours", "must", "need", "needs", "make", "makes", "made",
      "like", "well", "still", "even", "much", "many", "every", "never", "always", "without", "within",
      // French
      "les", "des", "une", "est", "pas", "par", "pour", "dans", "sur", "avec", "sans", "sous", "qui", "que",
      "quoi", "dont", "mais", "donc", "car", "aux", "del", "ces", "ses", "mes", "tes", "nos", "vos", "leur",
      "leurs", "elle", "elles", "nous", "vous", "ils", "ont", "sont", "était", "être", "avoir", "fait", "faire",
      "plus", "moins", "tout", "tous", "toute", "toutes", "comme", "quand", "aussi", "bien", "très", "cette",
      "cet", "entre", "après", "avant", "encore", "même", "peut", "doit", "ici",
      // Programming notes
      "fix", "fixed", "bug", "issue", "error", "problem", "solution", "situation", "code", "file", "files",
      "function", "method", "class", "value", "values", "return", "returns", "true", "false", "null", "none",
      "todo", "note", "notes", "work", "works", "working", "way", "thing", "things"};
  return kWords;
}

bool IsDelimiter(char c) {
  static constexpr std::string_view kDelims = "/\\:;,()[]{}<>\"'`";
  return kDelims.find(c) != std::string_view::npos || std::isspace(static_cast<unsigned char>(c));
}

// 1.2 or 1.2.3: a version, kept whole.
bool IsVersion(std::string_view w) {
  int parts = 1;
  bool digit = false;
  for (char c : w) {
    if (c == '.') {
      if (!digit) return false;
      ++parts;
      digit = false;
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      digit = true;
    } else {
      return false;
    }
  }
  return digit && (parts == 2 || parts == 3);
}

// Splits at delimiters and at a lower-case letter followed by an upper-case
// one; then at dots, unless the piece is a version.
std::vector<std::string> Tokenize(const std::string& text) {
  std::vector<std::string> raw(1);
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    bool camel = i > 0 && std::islower(static_cast<unsigned char>(text[i - 1])) &&
                 std::isupper(static_cast<unsigned char>(c));
    if (IsDelimiter(c) || camel) {
      if (!raw.back().empty()) raw.emplace_back();
      if (!camel) continue;
    }
    raw.back() += c;
  }
  std::vector<std::string> out;
  for (const auto& w : raw) {
    if (w.empty()) continue;
    if (IsVersion(w) || w.find('.') == std::string::npos) {
      out.push_back(w);
      continue;
    }
    size_t b = 0;
    for (size_t e; (e = w.find('.', b)) != std::string::npos; b = e + 1)
      if (e > b) out.push_back(w.substr(b, e - b));
    if (b < w.size()) out.push_back(w.substr(b));
  }
  return out;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

size_t CodePoints(const std::string& s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xC0) != 0x80; }));
}

}  // namespace

std::vector<std::string> ExtractKeywords(const std::string& title, const std::string& content,
                                         size_t max_keywords) {
  std::vector<std::string> order;
  std::unordered_map<std::string, double> score;
  for (const auto& w : Tokenize(title + " " + title + " " + title + " " + content)) {
    std::string k = Lower(w);
    if (CodePoints(k) < 3 || StopWords().count(k)) continue;
    if (score.emplace(k, 0.0).second) order.push_back(k);
    score[k] += 1.0;
  }
  const std::string lower_title = Lower(title);
  for (const auto& k : order) {
    double& s = score[k];
    if (std::any_of(k.begin(), k.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      s *= 2.0;
    if (k.find('_') != std::string::npos) s *= 1.5;
    if (lower_title.find(k) != std::string::npos) s *= 2.0;
  }
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    return score[a] > score[b];
  });
  if (order.size() > max_keywords) order.resize(max_keywords);
  return order;
}

}  // namespace rekall::store
