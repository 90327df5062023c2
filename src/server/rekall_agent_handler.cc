// RekallToolHandler's tools over links, deprecation and stale entries, and
// the guide (rekall_help). Texts follow the shape of Rekall's, so an agent
// used to them reads ours; every result also has structured content.
#include <string>

#include "present/present.h"
#include "server/rekall_handler.h"
#include "store/entry.h"
#include "util/json.h"

namespace rekall::server {

using nlohmann::json;

namespace {

// Our guide, one part per topic of rekall_help.
struct HelpPart {
  const char* topic;
  const char* text;
};

constexpr HelpPart kHelp[] = {
    {"search",
     "## Searching\n"
     "Search before you solve: rekall_search(query) finds entries by meaning (mode semantic, the default), by "
     "words (keyword) or both (hybrid); add `context` (what you are doing) to sharpen a short query, and filter "
     "by type, project or tags. Open a result with rekall_show(id) (a prefix of the id is enough). "
     "rekall_similar(entry_id) lists entries close in meaning to one. Obsolete entries stay out of results "
     "unless include_obsolete is true.\n"},
    {"add",
     "## Adding\n"
     "Record what you learned once it is solved: rekall_add(type, title, content, context, tags, project). "
     "Types: bug (a fixed defect), pattern (a reusable approach), decision (a choice and why), pitfall (a trap "
     "to avoid), config (a setting that mattered), reference (documentation worth keeping). Give context as "
     "{situation, solution, trigger_keywords}. Change an entry with rekall_update; retire it with "
     "rekall_deprecate (kept, hidden from search), or remove it with rekall_delete(id, confirm=true).\n"},
    {"links",
     "## Links\n"
     "rekall_link(source_id, target_id, relation_type, reason) connects entries: related (same theme), "
     "supersedes (the source replaces the target), derived_from (the source was generalised from the target), "
     "contradicts. rekall_related(entry_id, depth) walks them both ways, up to 3 links away; rekall_unlink "
     "removes them. rekall_stale(days) lists entries nobody read lately.\n"},
};

std::string HelpText(const std::string& topic) {
  std::string text = "# Rekall: your team's memory of solved problems\n\n";
  for (const auto& part : kHelp)
    if (topic == "all" || topic == part.topic) text += std::string("\n") + part.text;
  return text + "\nCite an entry as [Title](rekall://<id>).\n";
}

json EntryRef(const store::Entry& e) {
  return json{{"id", e.id}, {"title", e.title}, {"type", e.type}, {"status", e.status}, {"tags", e.tags}};
}

std::string Short(const std::string& id) { return id.substr(0, 12) + "..."; }

std::string TagsText(const std::vector<std::string>& tags) {
  std::string s;
  for (size_t i = 0; i < tags.size() && i < 3; ++i) s += (i ? ", " : "") + tags[i];
  return s.empty() ? "none" : s;
}

json LinkJson(const store::Link& l) {
  json j{{"id", l.id}, {"source_id", l.source_id}, {"target_id", l.target_id},
         {"relation_type", l.relation_type}, {"created_at", l.created_at}};
  if (l.reason) j["reason"] = *l.reason;
  return j;
}

}  // namespace

Status RekallToolHandler::ArgId(const json& args, const char* key, std::string* id) {
  return engine_->ResolveId(args.at(key).get<std::string>(), id);
}

ToolResult RekallToolHandler::Help(const json& args) {
  ToolResult r;
  std::string topic = args.value("topic", std::string("all"));
  r.text = HelpText(topic);
  r.structured = json{{"topic", topic}, {"guide", r.text}};
  return r;
}

ToolResult RekallToolHandler::Link(const json& args) {
  store::Link l;
  Status s = ArgId(args, "source_id", &l.source_id);
  if (s.ok()) s = ArgId(args, "target_id", &l.target_id);
  l.relation_type = args.value("relation_type", std::string(store::kDefaultRelationType));
  l.reason = args.at("reason").get<std::string>();
  if (s.ok()) s = engine_->Link(&l);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  r.structured = LinkJson(l);
  r.text = "Link created: " + l.source_id + " → [" + l.relation_type + "] → " + l.target_id + "\nReason: " + *l.reason;
  return r;
}

ToolResult RekallToolHandler::Unlink(const json& args) {
  std::string source, target;
  Status s = ArgId(args, "source_id", &source);
  if (s.ok()) s = ArgId(args, "target_id", &target);
  int removed = 0;
  if (s.ok()) s = engine_->Unlink(source, target, std::nullopt, &removed);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  r.structured = json{{"source_id", source}, {"target_id", target}, {"removed", removed}};
  r.text = removed ? "Link removed: " + source + " → " + target : "No link found between " + source + " and " + target;
  return r;
}

ToolResult RekallToolHandler::Related(const json& args) {
  std::string id;
  Status s = ArgId(args, "entry_id", &id);
  store::Entry start;
  if (s.ok()) s = engine_->Get(id, &start);
  int depth = static_cast<int>(std::clamp<long>(JsonToLongSaturated(args.at("depth")), 1, kMaxRelatedDepth));
  std::vector<RelatedEntry> out;
  if (s.ok()) s = engine_->Related(id, depth, std::nullopt, &out);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  json related = json::array();
  std::string list;
  for (const auto& rel : out) {
    json j = EntryRef(rel.entry);
    j.update({{"relation_type", rel.relation_type}, {"direction", rel.outgoing ? "outgoing" : "incoming"},
              {"depth", rel.depth}});
    related.push_back(std::move(j));
    list += std::string("- ") + (rel.outgoing ? "→" : "←") + " [" + rel.relation_type + "] [" + Short(rel.entry.id) +
            "] " + rel.entry.title + "\n    Type: " + rel.entry.type + " | Tags: " + TagsText(rel.entry.tags) + "\n";
  }
  r.structured = json{{"entry_id", id}, {"depth", depth}, {"count", out.size()}, {"related", std::move(related)}};
  r.text = out.empty() ? "No related entries found for " + Short(id)
                       : "Related entries for [" + Short(id) + "] " + start.title + ":\n\n" + list +
                             "\nTotal: " + std::to_string(out.size()) + " related entries (depth=" +
                             std::to_string(depth) + ")";
  return r;
}

ToolResult RekallToolHandler::Deprecate(const json& args) {
  std::string id;
  Status s = ArgId(args, "id", &id);
  std::optional<std::string> replaced_by;
  if (s.ok() && args.contains("replaced_by")) {
    std::string r;
    s = ArgId(args, "replaced_by", &r);
    replaced_by = r;
  }
  store::Entry e;
  std::string notice;
  if (s.ok()) s = engine_->Deprecate(id, replaced_by, &e, &notice);
  if (!s.ok()) return ToolResult::FromStatus(s);
  // Rekall has no column for the reason: it is said back, not stored.
  std::string reason = args.value("reason", std::string("Deprecated via MCP"));
  ToolResult r;
  r.structured = EntryRef(e);
  r.structured["superseded_by"] = e.superseded_by ? json(*e.superseded_by) : json(nullptr);
  r.structured["reason"] = reason;
  if (!notice.empty()) r.structured["notice"] = notice;
  r.text = "✓ Entry deprecated: " + e.id + "\n  Title: " + e.title + "\n" +
           (e.superseded_by ? "  Superseded by: " + *e.superseded_by + "\n" : "") + "  Reason: " + reason +
           "\n\nThe entry is now hidden from search results but preserved in history.";
  return r;
}

ToolResult RekallToolHandler::Stale(const json& args) {
  long days = JsonToLongSaturated(args.at("days"));
  long limit = JsonToLongSaturated(args.at("limit"));
  std::vector<store::Entry> out;
  Status s = engine_->Stale(static_cast<int>(std::clamp<long>(days, -1, 1L << 20)),
                            static_cast<int>(std::clamp<long>(limit, -1, kMaxLimit)), &out);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  json entries = json::array();
  std::string list;
  for (const auto& e : out) {
    json j = EntryRef(e);
    auto it = e.extra.find("last_accessed");
    j["last_accessed"] = it != e.extra.end() ? *it : json(nullptr);
    std::string last = j["last_accessed"].is_string() ? j["last_accessed"].get<std::string>().substr(0, 10) : "never";
    list += "- [" + Short(e.id) + "] " + e.title + "\n    Type: " + e.type + " | Last accessed: " + last + "\n";
    entries.push_back(std::move(j));
  }
  r.structured = json{{"days", days}, {"count", out.size()}, {"entries", std::move(entries)}};
  r.text = out.empty() ? "No entries inactive for more than " + std::to_string(days) + " days."
                       : "Entries not accessed in " + std::to_string(days) + "+ days:\n\n" + list + "\nTotal: " +
                             std::to_string(out.size()) + " stale entries\n\nConsider rekall_deprecate for obsolete ones.";
  return r;
}

}  // namespace rekall::server
