// Internal to src/store: the SQL of a ListFilter, shared by the listing
// (store.cc) and the keyword search (keyword_search.cc).
#pragma once

#include <sqlite3.h>

#include <string>
#include <vector>

#include "store/store.h"

namespace rekall::store::internal {

// WHERE clause of a filter over entries aliased `e` ("" when the filter is
// empty); its values are appended to *binds in order.
//
// `status_usually_holds`: the status condition is marked as true of most
// rows (likelihood 0.9), so that SQLite's planner, which has no statistics
// on Rekall's files, picks the type's or the project's index instead of
// the status index: an MCP search asks for active entries, nearly all of
// them, and a project filter keeping none of 100K entries read them all
// through the status index (41.8 ms against 0.6-4.4 ms; plans checked with
// EXPLAIN QUERY PLAN on bench/storage's 100K store).
std::string FilterSql(const ListFilter& f, std::vector<std::string>* binds, bool status_usually_holds = false);

// True when `f` has a condition SQLite can start from through an index of
// Rekall's schema (type, project): reading the entries it keeps then costs
// their number. A tags-only filter would scan every entry (hostile test:
// 0.24 s a search at 100K).
bool FilterHasIndexedStart(const ListFilter& f);

// Our index on the keyword rows' entry ids, entries_fts_content(c0), made
// by fts_upkeep.cc (Rekall's triggers and FTS5 find a row by its id by
// scanning). True only when the index of that name is exactly that one: a
// user's index of the same name on another column, partial or with another
// collation would turn each lookup through it into a scan (hostile test:
// 40 s of CPU for one search at 100K).
bool FtsIdIndexIsOurs(sqlite3* db);
inline constexpr const char* kFtsIdIndex = "rekall_engine_fts_id";

}  // namespace rekall::store::internal
