// Internal to src/store: the SQL of a ListFilter, shared by the listing
// (store.cc) and the keyword search (keyword_search.cc).
#pragma once

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

}  // namespace rekall::store::internal
