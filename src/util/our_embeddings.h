// Which rows of Rekall's `embeddings` table are "ours": vectors of
// all-MiniLM-L6-v2 (under either name Rekall and we write it as), 384
// float32 values each. Rows of another model or dimension stay in the file
// untouched, but never rank and count as missing (so `index rebuild`
// re-embeds their entries). This header is the one definition of that fact:
// the store, the vector index and the engine's doctor all build their SQL
// from it.
#pragma once

#include <string>
#include <string_view>

namespace rekall {

// The name we write into embeddings.model_name.
inline constexpr const char* kOurModelName = "sentence-transformers/all-MiniLM-L6-v2";
inline constexpr int kOurDim = 384;
// float32 little-endian, as Rekall writes numpy's tobytes() on x86/ARM.
inline constexpr int kOurVectorBytes = kOurDim * 4;

// embeddings.embedding_type: Rekall's CHECK constraint allows these two.
enum class EmbeddingType { kSummary, kContext };

// "summary" | "context": the spelling in SQL and in the file.
const char* EmbeddingTypeName(EmbeddingType t);
bool ParseEmbeddingType(const std::string& s, EmbeddingType* t);

// True for the names Rekall and we use for all-MiniLM-L6-v2.
bool IsOurModelName(const std::string& name);
// A stored vector of this model name and dimension is one of ours.
bool IsOurEmbedding(const std::string& model_name, int dimensions);

// SQL conditions over a row of `embeddings` known as `alias` in the query
// ("" for the bare table). They hold only literals, never parameters.
//
// The row is of `type`: "m.embedding_type = 'summary'".
std::string EmbeddingTypeSql(std::string_view alias, EmbeddingType type);
// ... and computed by our model, whatever its dimension (the vector index
// reads these and counts the rows of the wrong size as skipped).
std::string OurModelSql(std::string_view alias, EmbeddingType type);
// ... and of our dimension, with the bytes that dimension needs: a vector
// every query may rank, or count as present.
std::string OurEmbeddingSql(std::string_view alias, EmbeddingType type);
// OurEmbeddingSql(alias, EmbeddingType::kSummary).
std::string OurSummarySql(std::string_view alias);

}  // namespace rekall
