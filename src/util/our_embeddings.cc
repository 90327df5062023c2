#include "util/our_embeddings.h"

namespace rekall {

namespace {

// Rekall writes the short name, sentence-transformers the long one.
constexpr const char* kOurModelNames[] = {kOurModelName, "all-MiniLM-L6-v2"};

std::string Column(std::string_view alias, const char* column) {
  std::string out(alias);
  if (!out.empty()) out += '.';
  return out + column;
}

}  // namespace

const char* EmbeddingTypeName(EmbeddingType t) {
  switch (t) {
    case EmbeddingType::kSummary: return "summary";
    case EmbeddingType::kContext: return "context";
  }
  return "?";
}

bool ParseEmbeddingType(const std::string& s, EmbeddingType* t) {
  for (EmbeddingType c : {EmbeddingType::kSummary, EmbeddingType::kContext}) {
    if (s == EmbeddingTypeName(c)) {
      *t = c;
      return true;
    }
  }
  return false;
}

bool IsOurModelName(const std::string& name) {
  for (const char* n : kOurModelNames) {
    if (name == n) return true;
  }
  return false;
}

bool IsOurEmbedding(const std::string& model_name, int dimensions) {
  return IsOurModelName(model_name) && dimensions == kOurDim;
}

std::string EmbeddingTypeSql(std::string_view alias, EmbeddingType type) {
  return Column(alias, "embedding_type") + " = '" + EmbeddingTypeName(type) + "'";
}

std::string OurModelSql(std::string_view alias, EmbeddingType type) {
  std::string names;
  for (const char* n : kOurModelNames) names += std::string(names.empty() ? "'" : ", '") + n + "'";
  return EmbeddingTypeSql(alias, type) + " AND " + Column(alias, "model_name") + " IN (" + names + ")";
}

std::string OurEmbeddingSql(std::string_view alias, EmbeddingType type) {
  return OurModelSql(alias, type) + " AND " + Column(alias, "dimensions") + " = " + std::to_string(kOurDim) +
         " AND length(" + Column(alias, "vector") + ") = " + std::to_string(kOurVectorBytes);
}

std::string OurSummarySql(std::string_view alias) { return OurEmbeddingSql(alias, EmbeddingType::kSummary); }

}  // namespace rekall
