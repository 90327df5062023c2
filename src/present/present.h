// present: how entries and search results are shown, written once for both
// front-ends: the `rekall` command (people at a terminal; --json for scripts)
// and the MCP tools (a model reading a tool result). Also one definition of
// how fields a user gives change an entry (EntryPatch), whether they come
// from command-line options or from tool arguments.
//
// It sits between the engine and the fronts: it reads engine and store types
// and never calls the engine, so both fronts can use it without the other.
// The two fronts do not show the same things (a terminal line has the id
// first, a tool result spells out "id:" for the model), so each rendering
// takes the Audience it is for; what both show is written once.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "store/entry.h"

namespace rekall::present {

// Who reads a text rendering.
enum class Audience {
  kTerminal,  // a person running `rekall`
  kAgent,     // a model reading an MCP tool result
};

// Rekall's column for an entry's structured context (JSON text), held in
// Entry::extra. Older Rekall databases have no such column.
inline constexpr const char* kContextColumn = "context_structured";

// The entry types as a sentence: "bug, pattern, decision, pitfall, config or
// reference" (from store::kEntryTypes).
std::string EntryTypeChoices();

// Why a result matched: "vector #1 (cosine 0.484)", "keyword #2 (bm25
// -3.010)", or both joined by ", " (hybrid). Empty when it has neither rank.
std::string WhyText(const SearchResult& r);

// The same as JSON: whichever of vector_rank, keyword_rank, cosine and bm25
// the result has.
nlohmann::json WhyJson(const SearchResult& r);

// Which entry fields a result's JSON carries.
enum class ResultFields {
  kFullEntry,  // every field of store::EntryToJson except `extra` (rekall search --json)
  kSummary,    // id, title, type, project, confidence, status, tags (the tools)
};

// One search or similar hit: the entry's fields, "score" and "why".
nlohmann::json ResultJson(const SearchResult& r, ResultFields fields);

// A numbered list of results; "" for none (each front says "no results" in
// its own words).
//   kTerminal: "1. 0.4840  <EntryLine>" and "     why: ..." under it.
//   kAgent: "1. [type] title", then id, project, score, status; why; the
//   first 160 bytes of the content on one line: enough for the model to
//   decide which entries to open with rekall_show.
std::string ResultsText(const std::vector<SearchResult>& rs, Audience audience);

// "<id>  [type] title  (project, confidence N[, status])" (rekall list).
std::string EntryLine(const store::Entry& e);

// An entry in full: the title, one field per line, a blank line, the content.
// kTerminal aligns the values and ends with a newline; kAgent writes
// "field: value", adds the structured context's fields, and does not.
std::string EntryText(const store::Entry& e, Audience audience);

// An entry linked to the one shown, seen from it.
struct LinkedEntry {
  bool outgoing = false;      // the link goes from the entry shown to this one
  std::string relation_type;
  std::string id, title;      // title: empty when the entry is gone
};

// An entry in full for `rekall show` (kTerminal): EntryText's fields, then
// Rekall's memory type and reads and each field of the structured context,
// the content, and the links ("  -> [type] id  title").
std::string EntryDetailText(const store::Entry& e, const std::vector<LinkedEntry>& links);
// The links as JSON: [{direction, relation_type, entry_id, title}], the
// shape of rekall_show's links plus the title.
nlohmann::json LinkedEntriesJson(const std::vector<LinkedEntry>& links);

// Rekall's structured context of `e`: the parsed object (or the raw text if
// it is not JSON), null when the entry has none.
nlohmann::json EntryContext(const store::Entry& e);

// The entry as the tools return it: store::EntryToJson without the
// bookkeeping columns (`extra`), plus "context" when it has one.
nlohmann::json EntryJson(const store::Entry& e);

// Fields a user changes in an entry, from `rekall add` / `rekall edit`
// options or from rekall_add / rekall_update arguments. A field left unset
// leaves the entry's value alone.
struct EntryPatch {
  std::optional<std::string> title;
  std::optional<std::string> content;
  std::optional<std::string> type;
  std::optional<std::string> project;  // "" clears it
  std::optional<int> confidence;
  std::optional<std::vector<std::string>> tags;  // replaces the tags
  std::optional<std::string> status;
  std::optional<std::string> superseded_by;  // "" clears it
  // Rekall's structured context: an object, or a plain string (Rekall's
  // older form), which becomes the object's "situation".
  std::optional<nlohmann::json> context;
  // Rekall's memory_type (episodic or semantic; the store checks it).
  std::optional<std::string> memory_type;
  std::vector<std::string> add_tags;     // added after `tags` is applied
  std::vector<std::string> remove_tags;  // removed last

  // From the arguments of rekall_add or rekall_update, which the server has
  // checked against the tool's schema (a wrong type throws json::type_error).
  static EntryPatch FromToolArgs(const nlohmann::json& args);

  // The names of the fields set, in the tools' order: title, content, type,
  // project, confidence, tags, context, then status and superseded_by.
  std::vector<std::string> FieldNames() const;

  // Sets the fields given; validation is the engine's, on Add or Update.
  void ApplyTo(store::Entry* e) const;

  // Fits the patch to a database of an older Rekall schema, which may lack
  // the columns of the context and the memory type (`has_column` says which
  // it has): a context is dropped, the entry kept, and *notice says so; a
  // memory type asked for cannot be honoured and is refused. One rule for
  // rekall_add and `rekall add`.
  Status FitToColumns(const std::function<bool(const std::string&)>& has_column, std::string* notice);
};

}  // namespace rekall::present
