#include "server/rekall_handler.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <sstream>

#include "present/present.h"
#include "server/rekall_tools.h"
#include "store/entry.h"
#include "store/store.h"
#include "util/json.h"

namespace rekall::server {

using nlohmann::json;

namespace {

int ClampLimit(const json& args, const char* key, int def) {
  auto it = args.find(key);
  // Clamped, not refused: a limit past the maximum asks for all there is.
  long v = it == args.end() ? def : JsonToLongSaturated(*it);
  return static_cast<int>(std::clamp<long>(v, 1, RekallToolHandler::kMaxLimit));
}

// The rekall_search arguments (checked against the tool's schema) as a
// request; the cancellation flag and the model wait are the caller's.
Status ToSearchRequest(const json& args, SearchRequest* req) {
  req->query = args.at("query").get<std::string>();
  Status s = ParseSearchMode(args.value("mode", std::string(SearchModeName(kDefaultSearchMode))), &req->mode);
  if (!s.ok()) return s;
  req->limit = ClampLimit(args, "limit", 10);
  if (auto it = args.find("type"); it != args.end()) {
    std::string t = it->get<std::string>();
    if (!store::IsEntryType(t))
      return Status::InvalidArgument("invalid type '" + t + "' (expected " + present::EntryTypeChoices() + ")");
    req->filter.type = t;
  }
  if (auto it = args.find("project"); it != args.end()) req->filter.project = it->get<std::string>();
  if (auto it = args.find("tags"); it != args.end()) req->filter.tags = it->get<std::vector<std::string>>();
  req->filter.include_obsolete = args.value("include_obsolete", false);
  if (auto it = args.find("memory_type"); it != args.end()) req->filter.memory_type = it->get<std::string>();
  // Rekall's `context` sharpens the meaning of a short query: the engine
  // embeds it with the query, and matches only the query's words.
  req->context = args.value("context", std::string());
  if (req->query.find_first_not_of(" \t\r\n") == std::string::npos)
    return Status::InvalidArgument("the query is empty");
  return Status::OK();
}

// The tool result of a search: the hits as structured content, and a text
// that says first when they are keyword results because the model is loading.
ToolResult SearchAnswer(const std::string& query, SearchMode requested, const SearchResponse& resp) {
  ToolResult r;
  json results = json::array();
  for (const auto& hit : resp.results) results.push_back(present::ResultJson(hit, present::ResultFields::kSummary));
  r.structured = json{{"query", query},
                      {"mode", SearchModeName(resp.mode_used)},
                      {"requested_mode", SearchModeName(requested)},
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
    r.text = head + "No entries found for \"" + query + "\".";
  } else {
    r.text = head + "Found " + std::to_string(resp.results.size()) + " entr" +
             (resp.results.size() == 1 ? "y" : "ies") + " (" + SearchModeName(resp.mode_used) +
             " search; rekall_show <id> for the full content):\n" +
             present::ResultsText(resp.results, present::Audience::kAgent);
  }
  return r;
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
  if (name == "rekall_help") return Help(args);
  if (name == "rekall_link") return Link(args);
  if (name == "rekall_unlink") return Unlink(args);
  if (name == "rekall_related") return Related(args);
  if (name == "rekall_deprecate") return Deprecate(args);
  if (name == "rekall_stale") return Stale(args);
  if (name == "rekall_suggest") return Suggest(args);
  if (name == "rekall_get_context") return GetContext(args);
  if (name == "rekall_generalize") return Generalize(args);
  if (name == "rekall_sources_suggest") return SourcesSuggest(args);
  if (name == "rekall_sources_verify") return SourcesVerify(args);
  return ToolResult::Error("unknown tool " + name);
}

ToolResult RekallToolHandler::Search(const json& args, const CancelToken& cancel) {
  using std::chrono::milliseconds;
  using Clock = std::chrono::steady_clock;
  SearchRequest req;
  Status s = ToSearchRequest(args, &req);
  if (!s.ok()) return ToolResult::FromStatus(s);
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
  return SearchAnswer(args.at("query").get<std::string>(), req.mode, resp);
}

ToolResult RekallToolHandler::Show(const json& args) {
  std::string id;
  Status s = engine_->ResolveId(args.at("id").get<std::string>(), &id);
  store::Entry e;
  if (s.ok()) s = engine_->Read(id, &e);  // a read, counted as Rekall counts it
  std::vector<store::Link> links;
  if (s.ok()) s = engine_->LinksOf(id, &links);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  r.structured = present::EntryJson(e);
  r.text = present::EntryText(e, present::Audience::kAgent);
  if (!links.empty()) {
    r.structured["links"] = json::array();
    r.text += "\n\nlinks:";
    for (const auto& l : links) {
      bool out = l.source_id == id;
      r.structured["links"].push_back(json{{"direction", out ? "outgoing" : "incoming"},
                                           {"relation_type", l.relation_type},
                                           {"entry_id", out ? l.target_id : l.source_id}});
      r.text += std::string("\n- ") + (out ? "→ [" : "← [") + l.relation_type + "] " + (out ? l.target_id : l.source_id);
    }
  }
  return r;
}

ToolResult RekallToolHandler::Add(const json& args) {
  if (args.value("auto_capture_conversation", false) || args.contains("conversation_excerpt_indices"))
    return ToolResult::Error(
        "auto_capture_conversation: this server does not read client transcripts; call rekall_add with the "
        "excerpt in context.conversation_excerpt instead");
  present::EntryPatch patch = present::EntryPatch::FromToolArgs(args);
  // A database of an older Rekall schema keeps the entry without its
  // context, and says so.
  std::string cannot_hold;
  Status s = patch.FitToColumns([this](const std::string& c) { return engine_->HasEntryColumn(c); }, &cannot_hold);
  if (!s.ok()) return ToolResult::Error(s.message());
  store::Entry e;
  patch.ApplyTo(&e);
  std::string notice;
  s = engine_->Add(&e, &notice);
  if (!s.ok()) return ToolResult::FromStatus(s);
  if (!cannot_hold.empty()) notice += (notice.empty() ? "" : "; ") + cannot_hold;
  if (args.value("auto_detect_files", false))
    notice += std::string(notice.empty() ? "" : "; ") +
              "auto_detect_files is not supported by this server: list the files in context.files_modified";
  ToolResult r;
  r.structured = json{{"id", e.id}, {"title", e.title}, {"type", e.type}, {"created_at", e.created_at}};
  if (!notice.empty()) r.structured["notice"] = notice;
  r.text = "Added entry " + e.id + ": [" + e.type + "] " + e.title + (notice.empty() ? "" : "\nNote: " + notice);
  return r;
}

ToolResult RekallToolHandler::Update(const json& args) {
  std::string id;
  Status s = engine_->ResolveId(args.at("id").get<std::string>(), &id);
  if (!s.ok()) return ToolResult::FromStatus(s);
  present::EntryPatch patch = present::EntryPatch::FromToolArgs(args);
  json changed = patch.FieldNames();
  // Applied to the entry as stored, inside the engine's write transaction:
  // a CLI's concurrent tag or field survives.
  auto apply = [&patch](store::Entry* e) {
    patch.ApplyTo(e);
    return Status::OK();
  };
  store::Entry e;
  std::string notice;
  if (!(s = engine_->Patch(id, apply, &e, &notice)).ok()) return ToolResult::FromStatus(s);
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
  // Rekall refuses without confirm=true; so do we, as an error the agent sees.
  if (!args.value("confirm", false))
    return ToolResult::Error("deletion not confirmed: call rekall_delete again with confirm=true (it cannot be "
                             "undone), or keep the entry's history with rekall_deprecate");
  bool exists = false;
  Status s = engine_->Exists(id, &exists);
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
  Status s = engine_->ResolveId(args.at("entry_id").get<std::string>(), &id);
  std::vector<SearchResult> out;
  std::string notice;
  int limit = ClampLimit(args, "limit", 5);
  store::ListFilter f;
  f.include_obsolete = args.value("include_obsolete", false);
  if (s.ok()) s = engine_->Similar(id, limit, f, &out, &notice);
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

namespace {

// How vector search scans: "vector scan: 1-bit pre-scan, 1000 rows rescored
// exactly (1-bit self-check: recall@10 ~0.999 with 1000 candidates, 64
// sample queries)".
std::string ScanLine(const ScanReport& r) {
  std::ostringstream t;
  t << "vector scan: ";
  if (r.loading) return t.str() + "exact, from the tables, while the index loads";
  t << (r.scan == Quantization::kNone ? "exact float32" : std::string(QuantizationName(r.scan)) + " pre-scan");
  if (r.candidates) t << ", " << r.candidates << " rows rescored exactly";
  if (r.checked) {
    t << " (1-bit self-check: recall@10 ~" << std::fixed << std::setprecision(3) << r.bits_recall << " with "
      << r.bits_candidates << " candidates, " << r.check_queries << " sample queries)";
  }
  return t.str();
}

std::string BackfillLine(const BackfillStatus& b) {
  std::string line = "background embedding: " + std::string(BackfillStateName(b.state)) + ", " +
                     std::to_string(b.done) + " entries embedded, " + std::to_string(b.remaining) + " to go";
  if (b.state == BackfillState::kRunning)
    line += " (semantic search covers the embedded entries; keyword search covers all)";
  if (!b.error.empty()) line += ": " + b.error;
  return line;
}

}  // namespace

ToolResult RekallToolHandler::Info() {
  EngineStats st;
  Status s = engine_->Stats(&st);
  if (!s.ok()) return ToolResult::FromStatus(s);
  ToolResult r;
  std::ostringstream t;
  t << "Knowledge base: " << st.database << "\n"
    << "entries: " << st.entries << " (" << st.summary_embeddings << " with embeddings)\n"
    << "vector backend: " << st.backend << "\n"
    << "model: " << ModelStateName(st.model_state) << " (loads: " << st.model_loads << ", unloaded after "
    << st.model_idle_timeout_minutes << " idle minutes)\n"
    << "memory: " << st.rss_kb / 1024 << " MB resident, peak " << st.peak_rss_kb / 1024 << " MB\n"
    << "query cache: " << st.query_cache.size << " entries, " << st.query_cache.hits << " hits, "
    << st.query_cache.misses << " misses\n";
  if (st.vector_scan) t << ScanLine(*st.vector_scan) << "\n";
  if (st.backfill.state != BackfillState::kOff) t << BackfillLine(st.backfill) << "\n";
  if (st.keyword_index && st.keyword_index->ready)
    t << "keyword index: in memory, " << st.keyword_index->memory_bytes / (1024 * 1024) << " MB\n";
  r.text = t.str();
  r.structured = EngineStatsToJson(st);
  return r;
}

}  // namespace rekall::server
