// rekall search | similar
#include <algorithm>
#include <cmath>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "present/present.h"
#include "store/entry.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

struct SearchOptions {
  CLI::App* cmd = nullptr;
  std::vector<std::string> words;
  std::string mode = SearchModeName(kDefaultSearchMode);
  bool semantic_only = false;
  std::string context;
  FilterOptions filter;
  int limit = 10;
  double min_score = 0;
};

struct SimilarOptions {
  std::string query;  // an entry id (or a unique prefix of one), or text
  int limit = 10;
  bool include_obsolete = false;
};

// Rekall's name of a search mode in `search --json` (its "fts" is our
// keyword search).
const char* RekallModeName(SearchMode m) { return m == SearchMode::kKeyword ? "fts" : SearchModeName(m); }

double Round(double v, double unit) { return std::round(v / unit) * unit; }

// A Rekall `links` object: {outgoing: [{target_id, type}], incoming:
// [{source_id, type}]} of entry `id`.
json RekallLinks(const std::string& id, const std::vector<store::Link>& links) {
  json j{{"outgoing", json::array()}, {"incoming", json::array()}};
  for (const auto& l : links) {
    if (l.source_id == id) j["outgoing"].push_back(json{{"target_id", l.target_id}, {"type", l.relation_type}});
    else j["incoming"].push_back(json{{"source_id", l.source_id}, {"type", l.relation_type}});
  }
  return j;
}

// The fields of a result of Rekall's `search --json` that ours lacks, over
// ours: its bookkeeping columns, relevance_score (the cosine clamped to
// [0, 1], or 1.0 for a keyword-only hit, as Rekall gives every FTS hit),
// semantic_score (the cosine, 3 decimals, or null) and links.
void AddRekallFields(const SearchResult& r, const std::vector<store::Link>& links, json* j) {
  const auto& extra = r.entry.extra;
  for (const char* column : {"consolidation_score", "access_count", "last_accessed"}) {
    auto it = extra.find(column);
    (*j)[column] = it == extra.end() ? json(nullptr) : *it;
  }
  (*j)["relevance_score"] = r.cosine ? Round(std::clamp(*r.cosine, 0.0, 1.0), 0.01) : 1.0;
  (*j)["semantic_score"] = r.cosine ? json(Round(*r.cosine, 0.001)) : json(nullptr);
  (*j)["links"] = RekallLinks(r.entry.id, links);
}

// With --json: `head` plus "results" (each with Rekall's fields too when
// `eng` is given) and "total_count"; otherwise one numbered line per result.
Status PrintResults(const Context& ctx, Engine* eng, const std::vector<SearchResult>& rs, json head) {
  if (!ctx.json) {
    if (rs.empty()) std::cout << "no results" << std::endl;
    else ctx.PrintText(present::ResultsText(rs, present::Audience::kTerminal));
    return Status::OK();
  }
  head["results"] = json::array();
  for (const auto& r : rs) {
    json j = present::ResultJson(r, present::ResultFields::kFullEntry);
    std::vector<store::Link> links;
    Status s = eng->LinksOf(r.entry.id, &links);
    if (!s.ok()) return s;
    AddRekallFields(r, links, &j);
    head["results"].push_back(std::move(j));
  }
  head["total_count"] = rs.size();
  ctx.PrintJson(head);
  return Status::OK();
}

Status ToRequest(const SearchOptions& o, SearchRequest* req) {
  for (size_t i = 0; i < o.words.size(); ++i) req->query += (i ? " " : "") + o.words[i];
  Status s = ParseSearchMode(o.mode, &req->mode);
  if (o.semantic_only && o.cmd->count("--mode") && req->mode != SearchMode::kSemantic)
    s = Status::InvalidArgument("--semantic-only and --mode " + o.mode + " contradict each other");
  if (o.semantic_only) req->mode = SearchMode::kSemantic;
  req->context = o.context;
  req->limit = o.limit;
  if (o.cmd->count("--min-score")) req->min_score = o.min_score;
  req->filter = o.filter.ToFilter();
  if (req->filter.type && !store::IsEntryType(*req->filter.type))
    s = Status::InvalidArgument("invalid type '" + *req->filter.type + "'");
  return s;
}

// What Rekall's `search --json` says besides the results: the query, the
// mode ("fts" for keyword) and which filters of its context it applied.
json RekallHead(const SearchRequest& req, const SearchResponse& resp) {
  const store::ListFilter& f = req.filter;
  return json{{"query", req.query},
              {"search_mode", RekallModeName(resp.mode_used)},
              {"context_matches",
               {{"project", f.project.has_value()},
                {"type", f.type ? json(*f.type) : json(nullptr)},
                {"memory_type", f.memory_type ? json(*f.memory_type) : json(nullptr)}}}};
}

Status Search(Context& ctx, const SearchOptions& o) {
  SearchRequest req;
  Status s = ToRequest(o, &req);
  std::unique_ptr<Engine> eng;
  if (s.ok()) s = ctx.OpenEngine(&eng);
  SearchResponse resp;
  if (s.ok()) s = eng->Search(req, &resp);
  if (!s.ok()) return s;
  ctx.Notice(resp.notice);
  // As rekall_search's structured result: the mode asked for and, when the
  // answer is not what was asked (keyword results without the model or the
  // vectors), why, for a program reading --json; and Rekall's keys.
  json head = RekallHead(req, resp);
  head["mode"] = SearchModeName(resp.mode_used);
  head["requested_mode"] = SearchModeName(req.mode);
  head["model_loading"] = resp.model_loading;
  if (!resp.notice.empty()) head["notice"] = resp.notice;
  return PrintResults(ctx, eng.get(), resp.results, std::move(head));
}

// Rekall's `similar TEXT`: the entries nearest to the text, by meaning.
Status SimilarToText(Engine* eng, const SimilarOptions& o, const store::ListFilter& f,
                     std::vector<SearchResult>* out, std::string* notice, json* head) {
  SearchRequest req;
  req.query = o.query;
  req.mode = SearchMode::kSemantic;
  req.filter = f;
  req.limit = o.limit;
  SearchResponse resp;
  Status s = eng->Search(req, &resp);
  *out = std::move(resp.results);
  *notice = resp.notice;
  *head = json{{"query", o.query}, {"mode", SearchModeName(resp.mode_used)}};
  return s;
}

// `similar ID`: the entries nearest to that entry. `similar TEXT` (Rekall's
// form: not an id of ours, nor a unique prefix of one): a search by meaning.
Status Similar(Context& ctx, const SimilarOptions& o) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  if (!s.ok()) return s;
  std::string id;
  s = eng->ResolveId(o.query, &id);
  if (!s.ok() && !s.IsNotFound()) return s;  // an ambiguous prefix says which ids
  std::vector<SearchResult> out;
  std::string notice;
  store::ListFilter f;
  f.include_obsolete = o.include_obsolete;
  json head{{"entry_id", id}};
  if (s.ok()) s = eng->Similar(id, o.limit, f, &out, &notice);
  else s = SimilarToText(eng.get(), o, f, &out, &notice, &head);
  if (!s.ok()) return s;
  ctx.Notice(notice);
  return PrintResults(ctx, eng.get(), out, std::move(head));
}

}  // namespace

void RegisterSearchCommands(CLI::App* app, Context* ctx) {
  auto q = std::make_shared<SearchOptions>();
  CLI::App* c = AddCommand(app, "search", "Search by keywords and meaning fused (default), by meaning, or by keywords",
                           ctx, [q](Context& x) { return Search(x, *q); });
  c->footer(std::string("Modes: hybrid fuses the keyword (bm25) and meaning (vector) rankings, semantic ranks by "
                        "meaning only, keyword by the words only (any of them, bm25). ") +
            kDefaultSearchModeWhy +
            ". Short options are Rekall's: -t type, -p project, -m memory type (not the mode: use --mode), "
            "-l limit (and -n).");
  q->cmd = c;
  c->add_option("query", q->words, "What you are looking for, in your words")->required();
  std::vector<std::string> modes;
  for (SearchMode m : kSearchModes) modes.push_back(SearchModeName(m));
  c->add_option("--mode", q->mode, "How to rank (see below)")->check(CLI::IsMember(modes))->capture_default_str();
  c->add_flag("--semantic-only", q->semantic_only, "By meaning only: --mode semantic (Rekall's)");
  c->add_option("--context", q->context,
                "Words about the situation that sharpen the query's meaning: embedded with it for the meaning side "
                "of a semantic or hybrid search, never matched as keywords");
  c->add_option("--limit,-l,-n", q->limit, "Number of results")->check(CLI::Range(1, 4096));
  c->add_option("--min-score", q->min_score,
                "Drop results scoring below this: a cosine (semantic), -bm25 (keyword) or the fused score "
                "(hybrid, sum of 1/(60 + rank): at most about 0.033)");
  q->filter.Register(c);

  auto sim = std::make_shared<SimilarOptions>();
  c = AddCommand(app, "similar",
                 "Entries nearest in meaning to an entry (an id or unique prefix), or to a text (Rekall's form)", ctx,
                 [sim](Context& x) { return Similar(x, *sim); });
  c->add_option("query", sim->query, "An entry id or unique prefix; otherwise the text to match")->required();
  c->add_option("--limit,-l,-n", sim->limit, "Number of results")->check(CLI::Range(1, 4096))->capture_default_str();
  c->add_flag("--include-obsolete", sim->include_obsolete, kIncludeObsoleteHelp);
}

}  // namespace rekall::cli
