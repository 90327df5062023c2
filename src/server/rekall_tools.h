// The tools `rekall serve` offers: Rekall's 17, with the names, argument
// names, types, defaults and required lists of the Python Rekall's MCP
// server (so agents configured for it keep working), in its tools/list
// order, plus our rekall_update. RekallToolSpecs() has the full schemas;
// our additions are marked in each description:
//   rekall_search  + mode (hybrid|semantic|keyword, default hybrid:
//                  engine/search_mode.h), tags,
//                  include_obsolete
//   rekall_similar + include_obsolete
//   rekall_add     + memory_type; context may also be a plain string and
//                  nothing inside it is required (Rekall requires
//                  situation and solution)
//   rekall_update  ours
// Where Rekall's tool is broken at its commit 676d848 (rekall_related,
// rekall_deprecate, rekall_sources_suggest, rekall_sources_verify), ours
// does what its documentation says; rekall_sources_verify only reads.
// Each tool also carries MCP annotations and an output schema.
#pragma once

#include <string>
#include <vector>

#include "server/mcp_server.h"

namespace rekall::server {

// Every tool, in Rekall's order (rekall_update before rekall_delete).
std::vector<ToolSpec> RekallToolSpecs();

// The supersede group of each Rekall tool: a newer rekall_search cancels a
// running one ("search"), same for rekall_similar ("similar"); writes never
// supersede.
std::string RekallSupersedeGroup(const std::string& tool);

// What `rekall serve` says in its initialize answer: what the tools are for.
extern const char* const kRekallInstructions;

}  // namespace rekall::server
