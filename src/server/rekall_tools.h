// The tools `rekall serve` offers, with the names, argument names, types,
// defaults and required lists of the Python Rekall's MCP server, so agents
// set up for it keep working; our additions are marked in each description
// and in the comment block of mcp_server.h.
#pragma once

#include <string>
#include <vector>

#include "server/mcp_server.h"

namespace rekall::server {

// rekall_search, rekall_show, rekall_add, rekall_similar, rekall_info,
// rekall_update, rekall_delete.
std::vector<ToolSpec> RekallToolSpecs();

// The supersede group of each Rekall tool: a newer rekall_search cancels a
// running one ("search"), same for rekall_similar ("similar"); writes never
// supersede.
std::string RekallSupersedeGroup(const std::string& tool);

// Entry types Rekall knows, in its order.
const std::vector<std::string>& RekallEntryTypes();

}  // namespace rekall::server
