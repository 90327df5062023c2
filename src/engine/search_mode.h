// Search modes, their names, and the mode a search uses when none is asked
// for: one definition for the engine, the CLI's `search` and the MCP tool's
// schema. Header-only, so that the tool schemas (server/rekall_tools, which
// does not link the engine) can name the default too.
#pragma once

namespace rekall {

enum class SearchMode { kKeyword, kSemantic, kHybrid };

constexpr const char* SearchModeName(SearchMode m) {
  switch (m) {
    case SearchMode::kKeyword: return "keyword";
    case SearchMode::kSemantic: return "semantic";
    case SearchMode::kHybrid: return "hybrid";
  }
  return "?";
}

// Every mode, the default first (as `--help` and the tool schema list them).
inline constexpr SearchMode kSearchModes[] = {SearchMode::kHybrid, SearchMode::kSemantic, SearchMode::kKeyword};

// The default is the mode that measures best: on BEIR SciFact (5183
// abstracts, 300 queries; bench/quality/README.md) hybrid has nDCG@10 0.718,
// keyword 0.690 and semantic 0.645 (the published all-MiniLM-L6-v2 figure
// is 0.645 too). kDefaultSearchModeWhy says so to users.
inline constexpr SearchMode kDefaultSearchMode = SearchMode::kHybrid;
inline constexpr const char* kDefaultSearchModeWhy =
    "hybrid is the default: it ranks best on the BEIR SciFact benchmark (nDCG@10 0.718, keyword 0.690, "
    "semantic 0.645; bench/quality)";

}  // namespace rekall
