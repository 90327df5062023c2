// Rekall's structured context of an entry (its models.StructuredContext),
// written as Rekall writes it so that Rekall's own reader
// (Database.get_structured_context) reads what we stored: the JSON text in
// `context_structured`, the same text zlib-compressed in `context_blob`, one
// `context_keywords` row per trigger keyword, and "Situation: ...\nSolution:
// ..." compressed in `context_compressed` (what rekall_get_context reads).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rekall::store {

struct RekallContext {
  std::string json;                   // context_structured: Python's json.dumps layout
  std::string blob;                   // context_blob: zlib (level 6) of `json`
  std::string summary;                // context_compressed: zlib of "Situation: <s>\nSolution: <t>"
  std::vector<std::string> keywords;  // context_keywords: stripped, lower case, unique
};

// False when `ctx` is not a context Rekall can read back (situation and
// solution of at least 5 characters, one keyword at least): Rekall's reader
// would raise on it. Without trigger keywords, they are extracted from the
// entry's `title` and `content` and the context's text, as Rekall's MCP add
// does (store/keywords.h; extraction_method "auto"). Keys Rekall's MCP add
// fills in (created_at, extraction_method, time_of_day, day_of_week) are
// added when missing, from the local time; keys Rekall does not know are
// kept after its own.
bool ToRekallContext(const nlohmann::json& ctx, const std::string& title, const std::string& content,
                     RekallContext* out);

// The text Rekall embeds as an entry's 'context' embedding: "Situation:
// <situation>\nSolution: <solution>" (either line alone when the other is
// missing); empty when the stored context (`context_structured`'s JSON text)
// has neither.
std::string ContextEmbeddingText(const std::string& context_structured);

// zlib's compress2 at level 6, as Python's zlib.compress(data, 6).
std::string ZlibCompress(const std::string& data);
// The inverse; false when `data` is not a zlib stream.
bool ZlibDecompress(const std::string& data, std::string* out);

}  // namespace rekall::store
