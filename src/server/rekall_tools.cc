#include "server/rekall_tools.h"

#include <algorithm>
#include <iterator>

#include "engine/search_mode.h"
#include "store/entry.h"
#include "store/rekall_values.h"

namespace rekall::server {

using nlohmann::json;

const char* const kRekallInstructions =
    "Rekall: a knowledge base of developer notes (bugs, patterns, decisions, pitfalls, configs, references). "
    "Search it by meaning with rekall_search before solving a problem; open a result with rekall_show; "
    "record what you learned with rekall_add.";

namespace {

std::vector<std::string> EntryTypes() { return {std::begin(store::kEntryTypes), std::end(store::kEntryTypes)}; }

// Rekall's wording: "Filter by type: bug, pattern, ...".
std::string TypeFilterDescription() {
  std::string s = "Filter by type: ";
  for (size_t i = 0; i < std::size(store::kEntryTypes); ++i) s += (i ? ", " : "") + std::string(store::kEntryTypes[i]);
  return s;
}

// The `mode` argument: every mode, the default the engine's (its
// header only: this library does not link the engine).
json ModeProperty() {
  json names = json::array();
  for (SearchMode m : kSearchModes) names.push_back(SearchModeName(m));
  return json{{"type", "string"},
              {"description", std::string("Ranking: hybrid (keywords and meaning, fused), semantic (by meaning) or "
                                          "keyword (full-text); ") +
                                  kDefaultSearchModeWhy + " (rekall C++ addition)"},
              {"enum", names},
              {"default", SearchModeName(kDefaultSearchMode)}};
}

json Str(const std::string& description) { return json{{"type", "string"}, {"description", description}}; }

json Bool(const char* description) { return json{{"type", "boolean"}, {"description", description}}; }

// No schema default: an argument not given stays absent (false).
json IncludeObsolete() {
  return Bool("Also return obsolete (deprecated) entries, hidden by default (rekall C++ addition)");
}

json StrList(const char* description) {
  return json{{"type", "array"}, {"items", {{"type", "string"}}}, {"description", description}};
}

// No maximum: Rekall takes any limit, and so do we (the engine may clamp).
json Limit(const char* description, int def) {
  return json{{"type", "integer"}, {"description", description}, {"default", def}, {"minimum", 1}};
}

json Int(const char* description, int def) {
  return json{{"type", "integer"}, {"description", description}, {"default", def}};
}

json Object(json properties, json required = json::array()) {
  json o{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) o["required"] = std::move(required);
  return o;
}

std::vector<std::string> RelationTypes() {
  return {std::begin(store::kRelationTypes), std::end(store::kRelationTypes)};
}

// Rekall's structured context of an entry. Rekall also accepts a plain
// string here (its older form), so both are allowed.
json EntryContext() {
  return json{
      {"type", json::array({"object", "string"})},
      {"description",
       "Structured context for disambiguation: {situation, solution, trigger_keywords, ...} "
       "(a plain string is accepted too)"},
      {"properties",
       {{"situation", Str("What was the initial problem or context?")},
        {"solution", Str("How was it resolved?")},
        {"trigger_keywords", StrList("Keywords to find this entry later (3-5 recommended)")},
        {"what_failed", Str("What was tried but did not work?")},
        {"conversation_excerpt", Str("Relevant excerpt from the conversation")},
        {"files_modified", StrList("Files that were modified")},
        {"error_messages", StrList("Error messages encountered")}}}};
}

// The fields of an entry, shared by rekall_add and rekall_update.
json EntryProperties() {
  return json{
      {"type", {{"type", "string"}, {"description", "Entry type"}, {"enum", EntryTypes()}}},
      {"title", Str("Entry title: concise, searchable")},
      {"content", Str("Entry content (markdown): detailed explanation")},
      {"context", EntryContext()},
      {"tags", StrList("Tags for the entry")},
      {"project", Str("Project name")},
      {"confidence", {{"type", "integer"},
                      {"description", "Confidence level (0-5)"},
                      {"minimum", 0},
                      {"maximum", 5}}}};
}

// rekall_help, rekall_link, rekall_unlink, rekall_related, rekall_deprecate,
// rekall_stale: Rekall's names, arguments, required lists and defaults.
void AddLinkTools(std::vector<ToolSpec>* tools) {
  tools->push_back({"rekall_link",
                    "Create a link between two entries: related (same theme), supersedes (the source replaces "
                    "the target), derived_from (the source was generalised from the target), contradicts.",
                    Object({{"source_id", Str("Source entry ID")},
                            {"target_id", Str("Target entry ID")},
                            {"relation_type", {{"type", "string"},
                                               {"description", "Type of relation"},
                                               {"enum", RelationTypes()},
                                               {"default", store::kDefaultRelationType}}},
                            {"reason", Str("Why these entries are linked")}},
                           {"source_id", "target_id", "reason"})});
  tools->push_back({"rekall_unlink",
                    "Remove the links from one entry to another (every relation type; direction matters).",
                    Object({{"source_id", Str("Source entry ID")}, {"target_id", Str("Target entry ID")}},
                           {"source_id", "target_id"})});
  tools->push_back({"rekall_related",
                    "Entries linked to an entry, outgoing and incoming, up to `depth` links away.",
                    Object({{"entry_id", Str("Entry ID to explore")},
                            {"depth", Limit("How many links away to go (default: 1, max: 3; more is clamped)", 1)}},
                           {"entry_id"})});
}

// rekall_suggest, rekall_get_context, rekall_generalize, rekall_sources_suggest,
// rekall_sources_verify.
void AddDiscoveryTools(std::vector<ToolSpec>* tools) {
  tools->push_back({"rekall_suggest",
                    "Pending suggestions (links, generalizations) and groups of entries that share trigger "
                    "keywords: candidates for rekall_link or rekall_generalize.",
                    Object({{"type", {{"type", "string"},
                                      {"description", "Only suggestions of this type"},
                                      {"enum", {"link", "generalize"}}}},
                            {"limit", Int("Max suggestions (default: 10)", 10)},
                            {"include_consolidation",
                             Bool("Also list groups of entries sharing keywords (default: true)")}})});
  tools->push_back({"rekall_get_context", "The context stored with entries when they were added, to verify them.",
                    Object({{"entry_ids", StrList("Entry IDs")}}, {"entry_ids"})});
  tools->push_back({"rekall_generalize",
                    "Create one entry generalizing several (at least 2), linked derived_from to each of them.",
                    Object({{"entry_ids", StrList("Entry IDs to generalize (minimum 2)")},
                            {"title", Str("Title of the new entry (default: from the sources' titles)")},
                            {"type", {{"type", "string"},
                                      {"description", "Type of the new entry"},
                                      {"enum", {"pattern", "reference", "decision"}},
                                      {"default", "pattern"}}}},
                           {"entry_ids"})});
  tools->push_back({"rekall_sources_suggest", "Documentation sources whose themes match an entry's tags.",
                    Object({{"entry_id", Str("Entry ID")}, {"limit", Int("Max sources (default: 5)", 5)}},
                           {"entry_id"})});
  tools->push_back({"rekall_sources_verify",
                    "Sources due for a link check (not verified in the last day), with the URL to check; this "
                    "server makes no network request and changes nothing.",
                    Object({{"limit", Int("Max sources (default: 10)", 10)}})});
}

void AddMaintenanceTools(std::vector<ToolSpec>* tools) {
  tools->push_back({"rekall_stale", "Entries not read for a while: candidates to review or deprecate.",
                    Object({{"days", Int("Not read for this many days (default: 90)", 90)},
                            {"limit", Int("Max entries (default: 20)", 20)}})});
  tools->push_back({"rekall_deprecate",
                    "Mark an entry obsolete (optionally superseded by another): it is kept with its history "
                    "but hidden from search results.",
                    Object({{"id", Str("Entry ID to deprecate")},
                            {"replaced_by", Str("ID of the entry that replaces it")},
                            {"reason", Str("Why it is deprecated")}},
                           {"id"})});
}

// What each tool does to the knowledge base (MCP tool annotations), and the
// keys its successful results always carry (the output schema's required
// list; each result may carry more).
struct ToolTraits {
  const char* name;
  bool read_only;    // changes nothing a user wrote (a read's access count aside)
  bool destructive;  // may remove or overwrite what a user wrote
  bool idempotent;   // the same call twice does no more than once
  std::vector<std::pair<const char*, const char*>> result;  // key, JSON type
};

const std::vector<ToolTraits>& Traits() {
  static const std::vector<ToolTraits> traits = {
      {"rekall_help", true, false, true, {{"topic", "string"}, {"guide", "string"}}},
      {"rekall_search", true, false, true,
       {{"query", "string"}, {"mode", "string"}, {"count", "integer"}, {"results", "array"}}},
      {"rekall_show", true, false, true, {{"id", "string"}, {"title", "string"}, {"type", "string"}}},
      {"rekall_add", false, false, false, {{"id", "string"}, {"title", "string"}, {"type", "string"}}},
      {"rekall_similar", true, false, true, {{"entry_id", "string"}, {"count", "integer"}, {"results", "array"}}},
      {"rekall_link", false, false, false,
       {{"id", "string"}, {"source_id", "string"}, {"target_id", "string"}, {"relation_type", "string"}}},
      {"rekall_unlink", false, true, true, {{"source_id", "string"}, {"target_id", "string"}, {"removed", "integer"}}},
      {"rekall_related", true, false, true,
       {{"entry_id", "string"}, {"depth", "integer"}, {"count", "integer"}, {"related", "array"}}},
      {"rekall_info", true, false, true, {{"entries", "integer"}, {"backend", "string"}}},
      {"rekall_stale", true, false, true, {{"days", "integer"}, {"count", "integer"}, {"entries", "array"}}},
      {"rekall_deprecate", false, false, true, {{"id", "string"}, {"status", "string"}}},
      {"rekall_update", false, true, true, {{"id", "string"}, {"updated", "array"}}},
      {"rekall_delete", false, true, true, {{"deleted", "string"}}},
      {"rekall_suggest", true, false, true, {{"pending", "array"}, {"clusters", "array"}}},
      {"rekall_get_context", true, false, true, {{"contexts", "array"}}},
      {"rekall_generalize", false, false, false,
       {{"id", "string"}, {"title", "string"}, {"type", "string"}, {"sources", "array"}}},
      {"rekall_sources_suggest", true, false, true, {{"entry_id", "string"}, {"count", "integer"}, {"sources", "array"}}},
      {"rekall_sources_verify", true, false, true, {{"count", "integer"}, {"sources", "array"}}},
  };
  return traits;
}

// rekall_add's arguments: an entry's fields, its memory type, and Rekall's
// transcript-capture names.
json AddProperties() {
  json add_props = EntryProperties();
  add_props["confidence"]["default"] = 2;
  add_props["memory_type"] = json{{"type", "string"},
                                  {"description", "episodic (an event, the default) or semantic (general knowledge) "
                                                  "(rekall C++ addition; Rekall's CLI add -m)"},
                                  {"enum", std::vector<std::string>(std::begin(store::kMemoryTypes),
                                                                    std::end(store::kMemoryTypes))}};
  // Rekall's transcript capture (out of scope here, see README): accepted
  // names, so that its callers get a clear answer rather than "unknown".
  add_props["auto_capture_conversation"] =
      Bool("Capture the conversation from the client's transcript (Rekall's; not supported by this server: "
           "put the excerpt in context.conversation_excerpt)");
  add_props["auto_capture_conversation"]["default"] = false;
  add_props["auto_detect_files"] = Bool("Detect modified files with git (Rekall's; not supported by this server: "
                                        "list them in context.files_modified)");
  add_props["auto_detect_files"]["default"] = false;
  add_props["conversation_excerpt_indices"] =
      json{{"type", "array"}, {"items", {{"type", "integer"}}}, {"description", "Rekall's transcript capture, step 2"}};
  for (const char* k : {"_transcript_path", "_transcript_format", "_cwd", "_session_id"})
    add_props[k] = Str("Rekall's transcript capture (not supported by this server)");
  return add_props;
}

void Annotate(ToolSpec* t) {
  for (const auto& tr : Traits()) {
    if (t->name != tr.name) continue;
    t->annotations = json{{"readOnlyHint", tr.read_only},
                          {"destructiveHint", tr.destructive},
                          {"idempotentHint", tr.idempotent},
                          {"openWorldHint", false}};
    json props = json::object(), required = json::array();
    for (const auto& [key, type] : tr.result) {
      props[key] = json{{"type", type}};
      required.push_back(key);
    }
    t->output_schema = json{{"type", "object"}, {"properties", props}, {"required", required}};
  }
}

}  // namespace

std::vector<ToolSpec> RekallToolSpecs() {
  std::vector<ToolSpec> tools;
  tools.push_back({"rekall_help", "How to use Rekall's tools: when to search, add and link entries.",
                   Object({{"topic", {{"type", "string"},
                                      {"description", "Part of the guide (default: all)"},
                                      {"enum", {"search", "add", "links", "all"}}}}})});

  json search_props{
      {"query", Str("Search query")},
      {"context", Str("Conversation context for better semantic matching")},
      {"type", Str(TypeFilterDescription())},
      {"project", Str("Filter by project name")},
      {"limit", Limit("Max results (default: 10)", 10)},
      {"mode", ModeProperty()},
      {"tags", StrList("Only entries carrying all these tags (rekall C++ addition)")},
      {"include_obsolete", IncludeObsolete()},
      {"memory_type", {{"type", "string"},
                       {"description", "Only entries of this memory type (rekall C++ addition)"},
                       {"enum", std::vector<std::string>(std::begin(store::kMemoryTypes), std::end(store::kMemoryTypes))}}}};
  tools.push_back({"rekall_search",
                   "Search the knowledge base by meaning. Returns compact results - use rekall_show "
                   "for full content.",
                   {{"type", "object"}, {"properties", search_props}, {"required", {"query"}}}});

  tools.push_back({"rekall_show", "Get full details of an entry by ID. Use after search to get complete content.",
                   {{"type", "object"},
                    {"properties", {{"id", Str("Entry ID (full or prefix)")}}},
                    {"required", {"id"}}}});

  json add_props = AddProperties();
  // Rekall also requires `context`; we store entries without one.
  tools.push_back({"rekall_add",
                   "Add a new knowledge entry: after resolving a bug (type=bug), discovering a reusable "
                   "pattern, making a decision, avoiding a pitfall or configuring something tricky.",
                   {{"type", "object"}, {"properties", add_props}, {"required", {"type", "title"}}}});

  tools.push_back({"rekall_similar", "Find entries similar in meaning to a given entry.",
                   {{"type", "object"},
                    {"properties",
                     {{"entry_id", Str("Reference entry ID to find similar entries for")},
                      {"limit", Limit("Maximum number of similar entries (default: 5)", 5)},
                      {"include_obsolete", IncludeObsolete()}}},
                    {"required", {"entry_id"}}}});

  AddLinkTools(&tools);
  tools.push_back({"rekall_info", "Get statistics about the knowledge base: entry counts, types, projects.",
                   {{"type", "object"}, {"properties", json::object()}}});

  AddMaintenanceTools(&tools);
  AddDiscoveryTools(&tools);

  json update_props = EntryProperties();
  update_props["id"] = Str("ID of the entry to change (full or prefix)");
  tools.push_back({"rekall_update",
                   "Change fields of an existing entry; fields not given stay as they are (rekall C++ "
                   "addition).",
                   {{"type", "object"}, {"properties", update_props}, {"required", {"id"}}}});

  tools.push_back({"rekall_delete",
                   "Permanently delete an entry and its links. Requires confirm=true; consider rekall_deprecate "
                   "to keep history instead.",
                   {{"type", "object"},
                    {"properties",
                     {{"id", Str("Entry ID to delete (full id)")},
                      {"confirm", Bool("Must be true to confirm the permanent deletion")}}},
                    {"required", {"id", "confirm"}}}});
  for (auto& t : tools) {
    Annotate(&t);
    // A misspelt or unsupported argument is an error the model can read,
    // not an argument silently ignored.
    t.input_schema["additionalProperties"] = false;
  }
  // Rekall's order of tools/list, ours (rekall_update) before rekall_delete.
  static const std::vector<std::string> order = {
      "rekall_help",    "rekall_search",  "rekall_show",    "rekall_add",          "rekall_link",
      "rekall_suggest", "rekall_get_context", "rekall_unlink", "rekall_related",    "rekall_similar",
      "rekall_sources_suggest", "rekall_info", "rekall_stale", "rekall_generalize", "rekall_sources_verify",
      "rekall_deprecate", "rekall_update", "rekall_delete"};
  auto rank = [](const ToolSpec& t) { return std::find(order.begin(), order.end(), t.name) - order.begin(); };
  std::stable_sort(tools.begin(), tools.end(), [&](const ToolSpec& a, const ToolSpec& b) { return rank(a) < rank(b); });
  return tools;
}

std::string RekallSupersedeGroup(const std::string& tool) {
  if (tool == "rekall_search") return "search";
  if (tool == "rekall_similar") return "similar";
  return "";
}

}  // namespace rekall::server
