// The tools `rekall serve` offers. Names, argument names, types, defaults
// and required lists are those of the Python Rekall's MCP server, so agents
// configured for it keep working; our additions are marked in each tool's
// description and here (RekallToolSpecs() has the full schemas):
//   rekall_search  query (string, required), context (string), type (string),
//                  project (string), limit (integer, default 10);
//                  ours adds mode (hybrid|semantic|keyword, default hybrid:
//                  engine/search_mode.h)
//                  and tags (string[], all must match)
//   rekall_show    id (string, required; full id or prefix)
//   rekall_add     type (bug|pattern|decision|pitfall|config|reference,
//                  required), title (string, required), content (string),
//                  context (object {situation, solution, trigger_keywords[],
//                  what_failed, conversation_excerpt, files_modified[],
//                  error_messages[]}; Rekall also takes a plain string),
//                  tags (string[]), project (string),
//                  confidence (integer 0-5, default 2); Rekall requires
//                  context too, we do not
//   rekall_similar entry_id (string, required), limit (integer, default 5)
//   rekall_info    no arguments; ours returns our own statistics
//   rekall_delete  id (string, required)          -- ours, Rekall has none
//   rekall_update  id (string, required) + any rekall_add field -- ours
// Rekall also has rekall_help, rekall_link, rekall_unlink, rekall_suggest,
// rekall_get_context, rekall_related, rekall_sources_suggest, rekall_stale,
// rekall_generalize and rekall_sources_verify, which we do not offer (yet).
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

// What `rekall serve` says in its initialize answer: what the tools are for.
extern const char* const kRekallInstructions;

}  // namespace rekall::server
