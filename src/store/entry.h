// Entry: one piece of knowledge, as Rekall stores it in its `entries` table.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/types.h"
#include "util/status.h"

namespace rekall::store {

inline constexpr const char* kEntryTypes[] = {"bug", "pattern", "decision", "pitfall", "config", "reference"};
inline constexpr const char* kStatuses[] = {"active", "obsolete"};

// Limits on what a user may store. Rekall has none; ours keep one entry from
// making every search slow (a 60 KB note is large; 1 MiB is a document).
inline constexpr size_t kMaxTitleBytes = 1000;
inline constexpr size_t kMaxContentBytes = 1 << 20;
inline constexpr size_t kMaxTagBytes = 100;
inline constexpr size_t kMaxTags = 50;
// A structured context is a few sentences and keywords; its JSON, as large
// as content at most. A link's reason is a sentence.
inline constexpr size_t kMaxContextBytes = kMaxContentBytes;
inline constexpr size_t kMaxLinkReasonBytes = 4096;

struct Entry {
  std::string id;  // ULID; empty before Add()
  std::string title;
  std::string content;
  std::string type;
  std::optional<std::string> project;
  int confidence = 2;
  std::string status = "active";
  std::optional<std::string> superseded_by;
  std::string created_at;
  std::string updated_at;
  std::vector<std::string> tags;  // sorted, unique
  // Rekall's other columns of `entries` (memory_type, access_count, ...), kept
  // so that export/import round-trips a Rekall database exactly. BLOB values
  // are held as {"base64": "..."}.
  nlohmann::json extra = nlohmann::json::object();
};

inline constexpr const char* kActiveStatus = kStatuses[0];
inline constexpr const char* kObsoleteStatus = kStatuses[1];

bool IsEntryType(const std::string& t);
bool IsStatus(const std::string& s);
// Rekall's memory type of `e`: its memory_type column, NULL (or absent, an
// older schema) reading as episodic.
std::string MemoryTypeOf(const Entry& e);

// Checks every field a user can set, and every field Rekall parses the way
// Rekall parses it (store/rekall_values.h); the message names the field.
Status ValidateEntry(const Entry& e);

// Checks a filter's values as ValidateEntry checks the fields they match
// (a status or type no entry can have is a mistake, not an empty result).
Status ValidateFilter(const ListFilter& f);

// The filter as the engine applies it to what users see: without a status
// and without include_obsolete, only active entries.
ListFilter VisibleFilter(ListFilter f);

// Checks a text given to search for: no NUL byte, valid UTF-8.
Status ValidateQueryText(const std::string& q);

// Sorts and de-duplicates tags, trims surrounding whitespace.
void NormalizeTags(std::vector<std::string>* tags);

// The text Rekall embeds as an entry's 'summary': title, content and tags
// joined by single spaces, cut at 8000 characters (code points).
std::string SummaryText(const Entry& e);

// JSON form used by export/import and --json output.
nlohmann::json EntryToJson(const Entry& e);
// Reads a JSON object into an entry. Unknown keys are errors, so a typo does
// not silently lose a field. `require_all` asks for every stored field (import
// of an export); otherwise missing fields keep their defaults.
Status EntryFromJson(const nlohmann::json& j, Entry* e);

}  // namespace rekall::store
