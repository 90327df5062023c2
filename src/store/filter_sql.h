// Internal to src/store: the SQL of a ListFilter, shared by the listing
// (store.cc) and the keyword search (keyword_search.cc).
#pragma once

#include <string>
#include <vector>

#include "store/store.h"

namespace rekall::store::internal {

// WHERE clause of a filter over entries aliased `e` ("" when the filter is
// empty); its values are appended to *binds in order.
std::string FilterSql(const ListFilter& f, std::vector<std::string>* binds);

}  // namespace rekall::store::internal
