// The trigger keywords of an entry whose context came without any: Rekall's
// MCP add extracts them when an agent gives none, so that its keyword match
// and `context_keywords` have something to go on. Same rules as Rekall's
// extractor (rekall/context_extractor.py at 676d848), our own code and our
// own stop-word list: the title counts three times; words are split at
// camelCase, punctuation and dots (a version such as 1.2.3 stays whole),
// lower-cased, kept from 3 characters and when not a stop word; each scores
// its count, x2 with a digit, x1.5 with an underscore, x2 when it occurs in
// the title; the highest first, ties in order of first appearance.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace rekall::store {

// Rekall's MCP add takes 5.
inline constexpr size_t kAutoKeywords = 5;

std::vector<std::string> ExtractKeywords(const std::string& title, const std::string& content,
                                         size_t max_keywords = kAutoKeywords);

}  // namespace rekall::store
