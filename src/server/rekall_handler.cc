#include "server/rekall_handler.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <sstream>

#include "present/present.h"
#include "server/rekall_tools.h"
#include "store/entry.h"

namespace rekall::server {

using nlohmann::json;

namespace {

constexpr size_t kUlidLength = 26;

int ClampLimit(const json& args, const char* key, int def) {
  auto it = args.find(key);
  long v = it == args.end() ? def : it->get<long>();
  return static_cast<int>(std::clamp<long>(v, 1, RekallToolHandler::kMaxLimit));
}

}  // namespace

RekallToolHandler::RekallToolHandler(Engine* engine) : engine_(engine) {}

std::vector<ToolSpec> RekallToolHandler::Tools() { return RekallToolSpecs(); }

std::string RekallToolHandler::SupersedeGroup(const std::string& tool) { return RekallSupersedeGroup(tool); }

ToolResult RekallToolHandler::Call(const std::string& name, const json& args, const CancelToken& cancel) {
  if (name == "rekall_search") return Search(args, cancel);
  if (name == "rekall_show") return Show(args);
  if (name == "rekall_add") return Add(args);
  if (name == "rekall_update") return Update(args);
  if (name == "rekall_delete") return Delete(args);
  if (name == "rekall_similar") return Similar(args, cancel);
  if (name == "rekall_info") return Info();
  return ToolResult::Error("unknown tool " + name);
}

Status RekallToolHandler::ResolveId(const std::string& id_or_prefix, std::string* id) {
  std::string want = id_or_prefix;
  for (auto& c : want) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (want.empty()) return Status::InvalidArgument("the id is empty");
  bool exists = false;
  // Exact ids first, as given (imported entries may carry non-ULID ids).
  for (const std::string& candidate : {id_or_prefix, want}) {
    Status s = engine_->store()->Exists(candidate, &exists);
    if (!s.ok()) return s;
    if (exists) {
      *id = candidate;
      return Status::OK();
    }
  }
  if (want.size() >= kUlidLength) return Status::NotFound("no entry with id " + id_or_prefix);
  // A prefix: the ids in [want, want + 0xFF). The connection is opened with
  // SQLITE_OPEN_FULLMUTEX, so this read is safe beside the engine's calls.
  sqlite3* db = engine_->store()->db();
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, "SELECT id FROM entries WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 3", -1, &st,
                              nullptr);
  if (rc != SQLITE_OK) return Status::Internal(std::string("resolving an id prefix: ") + sqlite3_errmsg(db));
  std::string upper = want + "\xff";
  sqlite3_bind_text(st, 1, want.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, upper.c_str(), -1, SQLITE_TRANSIENT);
  std::vector<std::string> found;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) found.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return Status::Internal("resolving an id prefix failed");
  if (found.empty()) return Status::NotFound("no entry with id " + id_or_prefix);
  if (found.size() > 1)
    return Status::InvalidArgument("id prefix " + id_or_prefix + " is ambiguous (" + found[0] + ", " + found[1] +
                                   (found.size() > 2 ? ", ..." : "") + "); give more characters");
  *id = found[0];
  return Status::OK();
}

ToolResult RekallToolHandler::Search(const json& args, const CancelToken& cancel) {
  using std::chrono::milliseconds;
  using Clock = std::chrono::steady_clock;
  SearchRequest req;
  req.query = args.at("query").get<std::string>();
  Status s = ParseSearchMode(args.value("mode", std::string("semantic")), &req.mode);
  if (!s.ok()) return ToolResult::FromStatus(s);
  req.limit = ClampLimit(args, "limit", 10);
  if (auto it = args.find("type"); it != args.end()) {
    std::string t = it->get<std::string>();
    if (!store::IsEntryType(t))
      return ToolResult::FromStatus(
          Status::InvalidArgument("invalid type '" + t + "' (expected " + present::EntryTypeChoices() + ")"));
    req.filter.type = t;
  }
  if (auto it = args.find("project"); it != args.end()) req.filter.project = it->get<std::string>();
  if (auto it = args.find("tags"); it != args.end()) req.filter.tags = it->get<std::vector<std::string>>();
  // Rekall's `context` sharpens the meaning of a short query: it joins the
  // embedded text of a semantic search (the keyword side would demand every
  // word of it, so keyword and hybrid ranking use the query alone).
  std::string context = args.value("context", std::string());
  if (req.mode == SearchMode::kSemantic && !context.empty()) req.query += "\n" + context;
  if (req.query.find_first_not_of(" \t\r\n") == std::string::npos)
    return ToolResult::FromStatus(Status::InvalidArgument("the query is empty"));
  req.cancelled = cancel.flag();

  // Wait for a loading model here, where the wait is cancellable; the engine
  // gets what is left of the budget for its own (uncancellable) wait.
  double budget_s = engine_->config().model_load_wait_seconds;
  auto budget = milliseconds(static_cast<long>(budget_s * 1000.0));
  if (req.mode != SearchMode::kKeyword && engine_->model_state() == ModelState::kLoading) {
    auto deadline = Clock::now() + budget;
    engine_->WaitForModel(budget, cancel.flag());
    if (cancel.cancelled()) return ToolResult::Error("cancelled");
    budget = std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(deadline - Clock::now()));
  }
  req.model_wait = budget;

  SearchResponse resp;
  s = engine_->Search(req, &resp);
  if (!s.ok()) return ToolResult::FromStatus(s);
  if (cancel.cancelled()) return ToolResult::Error("cancelled");

  ToolResult r;
  json results = json::array();
  for (const auto& hit : resp.results) results.push_back(present::ResultJson(hit, present::ResultFields::kSummary));
  r.structured = json{{"query", args.at("query")},
                      {"mode", SearchModeName(resp.mode_used)},
                      {"requested_mode", SearchModeName(req.mode)},
                      {"model_loading", resp.model_loading},
                      {"count", resp.results.size()},
                      {"results", std::move(results)}};
  if (!resp.notice.empty()) r.structured["notice"] = resp.notice;
  std::string head;
  if (resp.model_loading) {
    head = "Note: the embedding model is loading, so these are keyword (full-text) results, not semantic ones; "
           "search again in a moment for results by meaning.\n";
  } else if (!resp.notice.empty()) {
    head = "Note: " + resp.notice + "\n";
  }
  if (resp.results.empty()) {
    r.text = head + "No entries found for \"" + args.at("query").get<std::string>() + "\".";
  } else {
    r.text = head + "Found " + std::to_string(resp.results.size()) + " entr" +
             (resp.results.size() == 1 ? "y" : "ies") + " (" + SearchModeName(resp.mode_used) +
             " search; rekall_show <id> for the full content):\n" +
             present::ResultsText(resp.results, present::Audience::kAgent);
  }
  return r;
}

ToolResult RekallToolHandler::Show(const json& args) {
  std::string id;
  Status s = ResolveId(args.at("id").get<std::string>(), &id);
  store::Entry e;
  if (s.ok()) s = engine_->Get(id, &e);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  r.structured = present::EntryJson(e);
  r.text = present::EntryText(e, present::Audience::kAgent);
  return r;
}

ToolResult RekallToolHandler::Add(const json& args) {
  store::Entry e;
  present::EntryPatch::FromToolArgs(args).ApplyTo(&e);
  std::string notice;
  Status s = engine_->Add(&e, &notice);
  if (!s.ok() && e.extra.contains(present::kContextColumn) && s.IsInvalidArgument() &&
      s.message().find(present::kContextColumn) != std::string::npos) {
    // A database without Rekall's context column: keep the entry, say the
    // context was not stored.
    e.extra.erase(present::kContextColumn);
    e.id.clear();
    s = engine_->Add(&e, &notice);
    if (s.ok()) notice += (notice.empty() ? "" : "; ") + std::string("this database cannot hold the context");
  }
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  r.structured = json{{"id", e.id}, {"title", e.title}, {"type", e.type}, {"created_at", e.created_at}};
  if (!notice.empty()) r.structured["notice"] = notice;
  r.text = "Added entry " + e.id + ": [" + e.type + "] " + e.title + (notice.empty() ? "" : "\nNote: " + notice);
  return r;
}

ToolResult RekallToolHandler::Update(const json& args) {
  std::string id;
  Status s = ResolveId(args.at("id").get<std::string>(), &id);
  store::Entry e;
  if (s.ok()) s = engine_->Get(id, &e);
  if (!s.ok()) return ToolResult::FromStatus(s);
  present::EntryPatch patch = present::EntryPatch::FromToolArgs(args);
  json changed = patch.FieldNames();
  patch.ApplyTo(&e);
  std::string notice;
  if (!(s = engine_->Update(&e, &notice)).ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  r.structured = json{{"id", e.id}, {"updated", changed}, {"updated_at", e.updated_at}};
  if (!notice.empty()) r.structured["notice"] = notice;
  std::string fields;
  for (size_t i = 0; i < changed.size(); ++i) fields += (i ? ", " : "") + changed[i].get<std::string>();
  r.text = "Updated entry " + e.id + (fields.empty() ? " (no fields given)" : " (" + fields + ")") +
           (notice.empty() ? "" : "\nNote: " + notice);
  return r;
}

ToolResult RekallToolHandler::Delete(const json& args) {
  std::string id = args.at("id").get<std::string>();
  bool exists = false;
  Status s = engine_->store()->Exists(id, &exists);
  if (s.ok() && !exists) s = Status::NotFound("no entry with id " + id + " (rekall_delete takes the full id)");
  if (s.ok()) s = engine_->Delete(id);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  r.structured = json{{"deleted", id}};
  r.text = "Deleted entry " + id;
  return r;
}

ToolResult RekallToolHandler::Similar(const json& args, const CancelToken& cancel) {
  std::string id;
  Status s = ResolveId(args.at("entry_id").get<std::string>(), &id);
  std::vector<SearchResult> out;
  std::string notice;
  int limit = ClampLimit(args, "limit", 5);
  if (s.ok()) s = engine_->Similar(id, limit, {}, &out, &notice);
  if (!s.ok()) return ToolResult::FromStatus(s);
  if (cancel.cancelled()) return ToolResult::Error("cancelled");
  ToolResult r;
  json results = json::array();
  for (const auto& hit : out) results.push_back(present::ResultJson(hit, present::ResultFields::kSummary));
  r.structured = json{{"entry_id", id}, {"count", out.size()}, {"results", std::move(results)}};
  if (!notice.empty()) r.structured["notice"] = notice;
  r.text = out.empty() ? "No similar entries for " + id + "."
                       : "Entries similar to " + id + ":\n" + present::ResultsText(out, present::Audience::kAgent);
  return r;
}

ToolResult RekallToolHandler::Info() {
  EngineStats st;
  Status s = engine_->Stats(&st);
  if (!s.ok()) return ToolResult::FromStatus(s);
  json j = EngineStatsToJson(st);
  ToolResult r;
  std::ostringstream t;
  t << "Knowledge base: " << j.value("database", std::string("?")) << "\n"
    << "entries: " << j.value("entries", 0) << " (" << j.value("summary_embeddings", 0) << " with embeddings)\n"
    << "vector backend: " << j.value("backend", std::string("?")) << "\n"
    << "model: " << j.value("model_state", std::string("?")) << " (loads: " << j.value("model_loads", 0)
    << ", unloaded after " << j.value("model_idle_timeout_minutes", 0) << " idle minutes)\n"
    << "memory: " << j.value("rss_kb", 0L) / 1024 << " MB resident, peak " << j.value("peak_rss_kb", 0L) / 1024
    << " MB\n";
  if (j.contains("query_cache")) {
    const json& q = j["query_cache"];
    t << "query cache: " << q.value("size", 0) << " entries, " << q.value("hits", 0) << " hits, "
      << q.value("misses", 0) << " misses\n";
  }
  r.text = t.str();
  r.structured = std::move(j);
  return r;
}

}  // namespace rekall::server
