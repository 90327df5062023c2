// What Rekall's reader accepts in the columns it parses (rekall/db.py
// _row_to_entry and Entry.__post_init__, under the oldest Python Rekall
// supports, 3.10). A value it cannot parse makes Rekall fail on the whole
// file, so the store refuses to write one, on every path (add, edit, import,
// MCP): ValidateEntry calls these.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace rekall::store {

// Rekall's memory types (models.VALID_MEMORY_TYPES); NULL reads as the first.
inline constexpr const char* kMemoryTypes[] = {"episodic", "semantic"};

// Python 3.10 date.fromisoformat: exactly YYYY-MM-DD, a real calendar date.
bool IsPythonIsoDate(const std::string& s);

// Python 3.10 datetime.fromisoformat: a date, then optionally 'T' or ' ' and
// HH[:MM[:SS[.fff|.ffffff]]] and an offset (+|-)HH:MM[:SS[.ffffff]]. No 'Z',
// no basic (undashed) format.
bool IsPythonIsoDatetime(const std::string& s);

// Checks Rekall's own columns an entry carries in `extra` (memory_type,
// access_count, last_accessed, next_review, review_interval, ease_factor,
// consolidation_score, centrality_score): the message names the field.
Status ValidateRekallColumns(const nlohmann::json& extra);

}  // namespace rekall::store
