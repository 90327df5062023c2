// RekallToolHandler's discovery tools: suggestions, stored contexts,
// generalization and documentation sources. Rekall's own handlers crash on
// sources_suggest (with matches) and sources_verify (with work); these do
// what their documentation says, and sources_verify only reads.
#include <algorithm>
#include <string>

#include "server/rekall_handler.h"
#include "util/json.h"

namespace rekall::server {

using nlohmann::json;

namespace {

constexpr size_t kMaxContextChars = 2000;  // Rekall's cut of a shown context

int IntArg(const json& args, const char* key, int lo, int hi) {
  return static_cast<int>(std::clamp<long>(JsonToLongSaturated(args.at(key)), lo, hi));
}

std::string Short(const std::string& id, size_t n = 12) { return id.substr(0, n) + "..."; }

std::string Percent(double x) { return std::to_string(static_cast<int>(x * 100 + 0.5)) + "%"; }

// The URL Rekall derives for a source: https://<domain><url_pattern without *>.
std::string SourceUrl(const store::Source& s) {
  std::string pattern = s.url_pattern;
  pattern.erase(std::remove(pattern.begin(), pattern.end(), '*'), pattern.end());
  return "https://" + s.domain + pattern;
}

json SourceJson(const store::Source& s) {
  return json{{"id", s.id}, {"domain", s.domain}, {"url", SourceUrl(s)}, {"score", s.personal_score},
              {"role", s.role}, {"status", s.status}, {"themes", s.themes},
              {"last_verified", s.last_verified ? json(*s.last_verified) : json(nullptr)}};
}

std::string Join(const std::vector<std::string>& v, size_t n) {
  std::string s;
  for (size_t i = 0; i < v.size() && i < n; ++i) s += (i ? ", " : "") + v[i];
  return s.empty() ? "none" : s;
}

std::string SuggestText(const Suggestions& sg) {
  std::string t;
  if (!sg.pending.empty()) t += "Pending suggestions:\n";
  for (const auto& p : sg.pending)
    t += "- [" + p.id + "] " + p.type + " (" + Percent(p.score) + ")\n  Entries: " + Join(p.entry_ids, 3) +
         (p.reason.empty() ? "" : "\n  Reason: " + p.reason) + "\n\n";
  if (!sg.clusters.empty()) t += "Consolidation opportunities (by keywords):\n";
  for (size_t i = 0; i < sg.clusters.size() && i < 5; ++i) {
    std::vector<std::string> titles;
    for (const auto& e : sg.clusters[i].entries) titles.push_back(e.title.substr(0, 25));
    t += "- Cluster " + std::to_string(i + 1) + ": Pattern: " + Join(sg.clusters[i].keywords, 3) +
         "\n  Keywords: " + Join(sg.clusters[i].keywords, 5) + "\n  Entries (" +
         std::to_string(sg.clusters[i].entries.size()) + "): " + Join(titles, 3) + "\n\n";
  }
  return t.empty() ? "No suggestions or consolidation opportunities found."
                   : t + "Link related entries with rekall_link, or merge a group with rekall_generalize.";
}

}  // namespace

ToolResult RekallToolHandler::Suggest(const json& args) {
  std::optional<std::string> type;
  if (args.contains("type")) type = args["type"].get<std::string>();
  Suggestions sg;
  Status s = engine_->Suggest(type, IntArg(args, "limit", 0, kMaxLimit), args.value("include_consolidation", true), &sg);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  json pending = json::array(), clusters = json::array();
  for (const auto& p : sg.pending)
    pending.push_back(json{{"id", p.id}, {"type", p.type}, {"entry_ids", p.entry_ids}, {"reason", p.reason},
                           {"score", p.score}});
  for (const auto& c : sg.clusters) {
    json ids = json::array();
    for (const auto& e : c.entries) ids.push_back(e.id);
    clusters.push_back(json{{"keywords", c.keywords}, {"entry_ids", std::move(ids)}});
  }
  r.structured = json{{"pending", std::move(pending)}, {"clusters", std::move(clusters)}};
  r.text = SuggestText(sg);
  return r;
}

ToolResult RekallToolHandler::GetContext(const json& args) {
  std::vector<std::string> ids = args.at("entry_ids").get<std::vector<std::string>>();
  if (ids.empty()) return ToolResult::Error("entry_ids is empty: give at least one entry id");
  std::vector<std::optional<std::string>> contexts;
  Status s = engine_->GetContexts(ids, &contexts);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  json list = json::array();
  std::string text = "Entry contexts for verification:\n\n";
  bool any = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    list.push_back(json{{"entry_id", ids[i]}, {"context", contexts[i] ? json(*contexts[i]) : json(nullptr)}});
    std::string shown = contexts[i] ? *contexts[i] : "(No context stored)";
    if (shown.size() > kMaxContextChars) shown = shown.substr(0, kMaxContextChars) + "...";
    text += "## Entry " + Short(ids[i]) + "\n" + shown + "\n\n";
    any = any || contexts[i].has_value();
  }
  r.structured = json{{"contexts", std::move(list)}};
  r.text = any ? text : "No context stored for these entries (a context is stored when an entry is added with one).";
  return r;
}

ToolResult RekallToolHandler::Generalize(const json& args) {
  std::vector<std::string> ids;
  Status s;
  for (const auto& given : args.at("entry_ids")) {
    std::string id;
    if (!(s = engine_->ResolveId(given.get<std::string>(), &id)).ok()) return ToolResult::FromStatus(s);
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);  // linked once each
  }
  store::Entry e;
  e.title = args.value("title", std::string());
  e.type = args.value("type", std::string("pattern"));
  std::string notice;
  if (!(s = engine_->Generalize(ids, &e, &notice)).ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  r.structured = json{{"id", e.id}, {"title", e.title}, {"type", e.type}, {"tags", e.tags}, {"sources", ids}};
  if (!notice.empty()) r.structured["notice"] = notice;
  std::string tags = e.tags.empty() ? "none" : Join(e.tags, e.tags.size());
  r.text = "Created generalized entry: " + e.id + "\nTitle: " + e.title + "\nType: " + e.type + "\nTags: " + tags +
           "\n\nLinked to " + std::to_string(ids.size()) + " source entries via 'derived_from'";
  return r;
}

ToolResult RekallToolHandler::SourcesSuggest(const json& args) {
  std::string id;
  Status s = ArgId(args, "entry_id", &id);
  store::Entry e;
  if (s.ok()) s = engine_->Get(id, &e);
  std::vector<store::Source> out;
  if (s.ok()) s = engine_->SourcesFor(id, IntArg(args, "limit", 0, kMaxLimit), &out);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  json sources = json::array();
  std::string list;
  for (const auto& src : out) {
    sources.push_back(SourceJson(src));
    list += "- [" + Short(src.id) + "] " + src.domain + " (score: " + std::to_string(static_cast<int>(src.personal_score)) +
            ")\n    URL: " + SourceUrl(src) + "\n    Role: " + src.role + " | Themes: " + Join(src.themes, 3) + "\n";
  }
  r.structured = json{{"entry_id", id}, {"count", out.size()}, {"sources", std::move(sources)}};
  r.text = out.empty() ? "No sources found matching tags for [" + Short(id) + "] " + e.title + "\nTags searched: " +
                             Join(e.tags, 5)
                       : "Suggested sources for [" + Short(id) + "] " + e.title + ":\n\n" + list + "\nTotal: " +
                             std::to_string(out.size()) + " suggested sources";
  return r;
}

ToolResult RekallToolHandler::SourcesVerify(const json& args) {
  std::vector<store::Source> out;
  Status s = engine_->SourcesToVerify(IntArg(args, "limit", 0, kMaxLimit), &out);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  json sources = json::array();
  std::string list;
  for (const auto& src : out) {
    sources.push_back(SourceJson(src));
    list += "- [" + Short(src.id) + "] " + src.domain + "\n    URL: " + SourceUrl(src) + "\n    Last verified: " +
            (src.last_verified ? src.last_verified->substr(0, 10) : "never") + "\n";
  }
  r.structured = json{{"count", out.size()}, {"sources", std::move(sources)}};
  r.text = out.empty() ? "No sources need verification. All sources were checked recently."
                       : "# Sources to verify\n\n" + std::to_string(out.size()) +
                             " sources were not checked in the last day. This server makes no network request: "
                             "open each URL to check it.\n\n" + list;
  return r;
}

}  // namespace rekall::server
