// rekall search | similar
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
  FilterOptions filter;
  int limit = 10;
  double min_score = 0;
};

struct SimilarOptions {
  std::string id;
  int limit = 5;
  bool include_obsolete = false;
};


// With --json: `head` plus "results"; otherwise one numbered line per result.
void PrintResults(const Context& ctx, const std::vector<SearchResult>& rs, json head) {
  if (ctx.json) {
    head["results"] = json::array();
    for (const auto& r : rs) head["results"].push_back(present::ResultJson(r, present::ResultFields::kFullEntry));
    ctx.PrintJson(head);
    return;
  }
  if (rs.empty()) {
    std::cout << "no results" << std::endl;
    return;
  }
  ctx.PrintText(present::ResultsText(rs, present::Audience::kTerminal));
}

Status ToRequest(const SearchOptions& o, SearchRequest* req) {
  for (size_t i = 0; i < o.words.size(); ++i) req->query += (i ? " " : "") + o.words[i];
  Status s = ParseSearchMode(o.mode, &req->mode);
  req->limit = o.limit;
  if (o.cmd->count("--min-score")) req->min_score = o.min_score;
  req->filter = o.filter.ToFilter();
  if (req->filter.type && !store::IsEntryType(*req->filter.type))
    s = Status::InvalidArgument("invalid type '" + *req->filter.type + "'");
  return s;
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
  // vectors), why, for a program reading --json.
  json head{{"mode", SearchModeName(resp.mode_used)},
            {"requested_mode", SearchModeName(req.mode)},
            {"model_loading", resp.model_loading}};
  if (!resp.notice.empty()) head["notice"] = resp.notice;
  PrintResults(ctx, resp.results, std::move(head));
  return Status::OK();
}

Status Similar(Context& ctx, const SimilarOptions& o) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  std::vector<SearchResult> out;
  std::string notice;
  store::ListFilter f;
  f.include_obsolete = o.include_obsolete;
  if (s.ok()) s = eng->Similar(o.id, o.limit, f, &out, &notice);
  if (!s.ok()) return s;
  ctx.Notice(notice);
  PrintResults(ctx, out, json{{"entry_id", o.id}});
  return Status::OK();
}

}  // namespace

void RegisterSearchCommands(CLI::App* app, Context* ctx) {
  auto q = std::make_shared<SearchOptions>();
  CLI::App* c = AddCommand(app, "search", "Search by keywords and meaning fused (default), by meaning, or by keywords",
                           ctx, [q](Context& x) { return Search(x, *q); });
  c->footer(std::string("Modes: hybrid fuses the keyword (bm25) and meaning (vector) rankings, semantic ranks by "
                        "meaning only, keyword by the words only (any of them, bm25). ") +
            kDefaultSearchModeWhy + ".");
  q->cmd = c;
  c->add_option("query", q->words, "What you are looking for, in your words")->required();
  std::vector<std::string> modes;
  for (SearchMode m : kSearchModes) modes.push_back(SearchModeName(m));
  c->add_option("--mode,-m", q->mode, "How to rank (see below)")->check(CLI::IsMember(modes))->capture_default_str();
  c->add_option("--limit,-n", q->limit, "Number of results")->check(CLI::Range(1, 4096));
  c->add_option("--min-score", q->min_score,
                "Drop results scoring below this: a cosine (semantic), -bm25 (keyword) or the fused score "
                "(hybrid, sum of 1/(60 + rank): at most about 0.033)");
  q->filter.Register(c);

  auto sim = std::make_shared<SimilarOptions>();
  c = AddCommand(app, "similar", "Entries nearest in meaning to an entry", ctx,
                 [sim](Context& x) { return Similar(x, *sim); });
  c->add_option("id", sim->id, "Entry id")->required();
  c->add_option("--limit,-n", sim->limit, "Number of results")->check(CLI::Range(1, 4096));
  c->add_flag("--include-obsolete", sim->include_obsolete, kIncludeObsoleteHelp);
}

}  // namespace rekall::cli
