#include "present/present.h"

#include <algorithm>
#include <cstdio>
#include <limits>
#include <iterator>

#include "util/json.h"

namespace rekall::present {

using nlohmann::json;

namespace {

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

json OptionalString(const std::optional<std::string>& v) { return v ? json(*v) : json(nullptr); }

std::optional<std::string> EmptyClears(const std::string& v) {
  return v.empty() ? std::nullopt : std::optional<std::string>(v);
}

std::string JoinTags(const std::vector<std::string>& tags) {
  std::string s;
  for (size_t i = 0; i < tags.size(); ++i) s += (i ? ", " : "") + tags[i];
  return s;
}

// The content's first 160 bytes on one line, never cutting a UTF-8 sequence
// in two, "..." when cut.
std::string Snippet(const std::string& content) {
  std::string snippet = content.substr(0, 160);
  while (!snippet.empty() && snippet.size() < content.size() &&
         (static_cast<unsigned char>(content[snippet.size()]) & 0xC0) == 0x80)
    snippet.pop_back();
  for (auto& c : snippet)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  return snippet + (snippet.size() < content.size() ? "..." : "");
}

std::string TerminalResult(int n, const SearchResult& r) {
  return std::to_string(n) + ". " + Fixed(r.score, 4) + "  " + EntryLine(r.entry) + "\n     why: " + WhyText(r) +
         "\n";
}

std::string AgentResult(int n, const SearchResult& r) {
  const store::Entry& e = r.entry;
  std::string out = std::to_string(n) + ". [" + e.type + "] " + e.title + "\n   id: " + e.id;
  if (e.project) out += "  project: " + *e.project;
  out += "  score: " + Fixed(r.score, 4);
  if (e.status != "active") out += "  status: " + e.status;
  out += "\n";
  std::string why = WhyText(r);
  if (!why.empty()) out += "   why: " + why + "\n";
  if (!e.content.empty()) out += "   " + Snippet(e.content) + "\n";
  return out;
}

// The fields EntryText shows under the title, in order.
std::vector<std::pair<std::string, std::string>> EntryFields(const store::Entry& e) {
  std::vector<std::pair<std::string, std::string>> f = {
      {"id", e.id},
      {"type", e.type},
      {"project", e.project.value_or("-")},
      {"confidence", std::to_string(e.confidence)},
      {"status", e.status}};
  if (e.superseded_by) f.emplace_back("superseded by", *e.superseded_by);
  f.emplace_back("tags", JoinTags(e.tags));
  f.emplace_back("created", e.created_at);
  f.emplace_back("updated", e.updated_at);
  return f;
}

// "  label:      value": values aligned after the longest usual label.
std::string TerminalFields(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string s;
  for (const auto& [label, value] : fields) {
    std::string head = label + ":";
    if (head.size() < 11) head.resize(11, ' ');
    s += "  " + head + " " + value + "\n";
  }
  return s;
}

std::string TerminalEntry(const store::Entry& e) {
  return e.title + "\n" + TerminalFields(EntryFields(e)) + "\n" + e.content + "\n";
}

// A value of Rekall's columns in `extra` as text ("" when absent or null).
std::string ExtraText(const store::Entry& e, const char* column) {
  auto it = e.extra.find(column);
  if (it == e.extra.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// What `show` adds to EntryFields: Rekall's memory type and reads, and each
// field of the structured context.
std::vector<std::pair<std::string, std::string>> DetailFields(const store::Entry& e) {
  std::vector<std::pair<std::string, std::string>> f;
  std::string memory = ExtraText(e, "memory_type"), count = ExtraText(e, "access_count");
  if (!memory.empty()) f.emplace_back("memory", memory);
  if (!count.empty()) {
    std::string last = ExtraText(e, "last_accessed");
    f.emplace_back("accessed", count + " times" + (last.empty() ? "" : ", last " + last));
  }
  json context = EntryContext(e);
  if (context.is_string()) f.emplace_back("context", context.get<std::string>());
  if (!context.is_object()) return f;
  for (auto it = context.begin(); it != context.end(); ++it) {
    if (it->is_null()) continue;
    f.emplace_back(it.key(), it->is_string() ? it->get<std::string>() : it->dump());
  }
  return f;
}

std::string AgentEntry(const store::Entry& e) {
  std::string s = e.title + "\n";
  for (const auto& [label, value] : EntryFields(e)) s += label + ": " + value + "\n";
  json context = EntryContext(e);
  if (context.is_object()) {
    for (auto it = context.begin(); it != context.end(); ++it) {
      if (it->is_null()) continue;
      s += it.key() + ": " + (it->is_string() ? it->get<std::string>() : it->dump()) + "\n";
    }
  } else if (context.is_string()) {
    s += "context: " + context.get<std::string>() + "\n";
  }
  return s + "\n" + e.content;
}

}  // namespace

std::string EntryTypeChoices() {
  std::string s;
  size_t n = std::size(store::kEntryTypes);
  for (size_t i = 0; i < n; ++i) s += (i == 0 ? "" : i + 1 == n ? " or " : ", ") + std::string(store::kEntryTypes[i]);
  return s;
}

std::string WhyText(const SearchResult& r) {
  std::string s, sep;
  if (r.vector_rank) {
    s += "vector #" + std::to_string(r.vector_rank);
    if (r.cosine) s += " (cosine " + Fixed(*r.cosine, 3) + ")";
    sep = ", ";
  }
  if (r.keyword_rank) {
    s += sep + "keyword #" + std::to_string(r.keyword_rank);
    if (r.bm25) s += " (bm25 " + Fixed(*r.bm25, 3) + ")";
  }
  return s;
}

json WhyJson(const SearchResult& r) {
  json why = json::object();
  if (r.vector_rank) why["vector_rank"] = r.vector_rank;
  if (r.keyword_rank) why["keyword_rank"] = r.keyword_rank;
  if (r.cosine) why["cosine"] = *r.cosine;
  if (r.bm25) why["bm25"] = *r.bm25;
  return why;
}

json ResultJson(const SearchResult& r, ResultFields fields) {
  const store::Entry& e = r.entry;
  json j;
  if (fields == ResultFields::kFullEntry) {
    j = store::EntryToJson(e);
    j.erase("extra");
  } else {
    j = json{{"id", e.id},         {"title", e.title},   {"type", e.type}, {"project", OptionalString(e.project)},
             {"confidence", e.confidence}, {"status", e.status}, {"tags", e.tags}};
  }
  j["score"] = r.score;
  j["why"] = WhyJson(r);
  return j;
}

std::string ResultsText(const std::vector<SearchResult>& rs, Audience audience) {
  std::string out;
  int n = 0;
  for (const auto& r : rs) out += audience == Audience::kTerminal ? TerminalResult(++n, r) : AgentResult(++n, r);
  return out;
}

std::string EntryLine(const store::Entry& e) {
  std::string meta;
  if (e.project) meta += *e.project + ", ";
  meta += "confidence " + std::to_string(e.confidence);
  if (e.status != "active") meta += ", " + e.status;
  return e.id + "  [" + e.type + "] " + e.title + "  (" + meta + ")";
}

std::string EntryText(const store::Entry& e, Audience audience) {
  return audience == Audience::kTerminal ? TerminalEntry(e) : AgentEntry(e);
}

std::string EntryDetailText(const store::Entry& e, const std::vector<LinkedEntry>& links) {
  std::string s = e.title + "\n" + TerminalFields(EntryFields(e)) + TerminalFields(DetailFields(e));
  s += "\n" + e.content + "\n";
  if (!links.empty()) s += "\nlinks:\n";
  for (const auto& l : links)
    s += std::string(l.outgoing ? "  -> [" : "  <- [") + l.relation_type + "] " + l.id + "  " + l.title + "\n";
  return s;
}

json LinkedEntriesJson(const std::vector<LinkedEntry>& links) {
  json j = json::array();
  for (const auto& l : links)
    j.push_back(json{{"direction", l.outgoing ? "outgoing" : "incoming"},
                     {"relation_type", l.relation_type},
                     {"entry_id", l.id},
                     {"title", l.title}});
  return j;
}

json EntryContext(const store::Entry& e) {
  auto ctx = e.extra.find(kContextColumn);
  if (ctx == e.extra.end() || !ctx->is_string()) return nullptr;
  // Stored by any tool, so parsed like every JSON from outside.
  json parsed;
  if (!ParseJson(ctx->get<std::string>(), kMaxJsonDepth, &parsed).ok()) return ctx->get<std::string>();
  return parsed;
}

json EntryJson(const store::Entry& e) {
  json j = store::EntryToJson(e);
  j.erase("extra");
  json context = EntryContext(e);
  if (!context.is_null()) j["context"] = std::move(context);
  return j;
}

EntryPatch EntryPatch::FromToolArgs(const json& args) {
  EntryPatch p;
  if (auto it = args.find("title"); it != args.end()) p.title = it->get<std::string>();
  if (auto it = args.find("content"); it != args.end()) p.content = it->get<std::string>();
  if (auto it = args.find("type"); it != args.end()) p.type = it->get<std::string>();
  if (auto it = args.find("project"); it != args.end()) p.project = it->get<std::string>();
  if (auto it = args.find("confidence"); it != args.end()) p.confidence = static_cast<int>(std::clamp<long>(
      JsonToLongSaturated(*it), std::numeric_limits<int>::min(), std::numeric_limits<int>::max()));
  if (auto it = args.find("tags"); it != args.end()) p.tags = it->get<std::vector<std::string>>();
  if (auto it = args.find("context"); it != args.end()) p.context = *it;
  if (auto it = args.find("memory_type"); it != args.end()) p.memory_type = it->get<std::string>();
  return p;
}

std::vector<std::string> EntryPatch::FieldNames() const {
  std::vector<std::string> names;
  auto add = [&names](bool set, const char* name) {
    if (set) names.push_back(name);
  };
  add(title.has_value(), "title");
  add(content.has_value(), "content");
  add(type.has_value(), "type");
  add(project.has_value(), "project");
  add(confidence.has_value(), "confidence");
  add(tags.has_value(), "tags");
  add(context.has_value(), "context");
  add(status.has_value(), "status");
  add(superseded_by.has_value(), "superseded_by");
  return names;
}

void EntryPatch::ApplyTo(store::Entry* e) const {
  if (title) e->title = *title;
  if (content) e->content = *content;
  if (type) e->type = *type;
  if (project) e->project = EmptyClears(*project);
  if (confidence) e->confidence = *confidence;
  if (tags) e->tags = *tags;
  if (status) e->status = *status;
  if (superseded_by) e->superseded_by = EmptyClears(*superseded_by);
  if (context) {
    json object = context->is_string() ? json{{"situation", context->get<std::string>()}} : *context;
    e->extra[kContextColumn] = DumpJson(object, -1, nullptr);
  }
  if (memory_type) e->extra["memory_type"] = *memory_type;
  for (const auto& t : add_tags) e->tags.push_back(t);
  for (const auto& t : remove_tags) std::erase(e->tags, t);
}

Status EntryPatch::FitToColumns(const std::function<bool(const std::string&)>& has_column, std::string* notice) {
  if (memory_type && !has_column("memory_type"))
    return Status::InvalidArgument("this database (an older Rekall schema) has no memory_type column");
  if (context && !has_column(kContextColumn)) {
    context.reset();
    *notice += std::string(notice->empty() ? "" : "; ") + "this database cannot hold the context";
  }
  return Status::OK();
}

}  // namespace rekall::present
