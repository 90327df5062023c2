// rekall embed | index status | index rebuild | stats
#include <unistd.h>

#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/progress.h"
#include "util/json.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

// The model alone: no database is opened (or created).
Status Embed(Context& ctx, const std::vector<std::string>& texts) {
  config::Config cfg;
  Status s = ctx.LoadConfig(&cfg);
  std::vector<float> out;
  int dim = 0;
  if (s.ok()) s = Engine::EmbedTexts(cfg, texts, &out, &dim);
  if (!s.ok()) return s;
  json j = json::array();
  size_t d = static_cast<size_t>(dim);
  for (size_t i = 0; i < texts.size(); ++i)
    j.push_back({{"text", texts[i]}, {"dimensions", d},
                 {"embedding", std::vector<float>(out.begin() + static_cast<long>(i * d),
                                                  out.begin() + static_cast<long>((i + 1) * d))}});
  ctx.PrintJson(j);
  return Status::OK();
}

Status IndexStatusCommand(Context& ctx) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  IndexStatus st;
  if (s.ok()) s = eng->GetIndexStatus(&st);
  if (!s.ok()) return s;
  ctx.Notice(st.notice);
  if (ctx.json) {
    ctx.PrintJson(json{{"entries", st.entries}, {"embedded", st.embedded}, {"missing", st.missing},
                       {"mismatched", st.mismatched}, {"indexed", st.indexed}, {"backend", st.backend}});
  } else {
    std::cout << "entries:    " << st.entries << "\nembedded:   " << st.embedded << "\nmissing:    " << st.missing
              << "\nmismatched: " << st.mismatched << "\nindexed:    " << st.indexed
              << "\nbackend:    " << st.backend << std::endl;
  }
  return Status::OK();
}

Status IndexRebuild(Context& ctx, bool all) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  if (!s.ok()) return s;
  size_t n = 0;
  {
    Progress bar("embedded", !ctx.quiet && !ctx.json);
    s = eng->RebuildIndex(all, [&](size_t done, size_t total) { bar.Update(done, total); }, &n);
  }
  if (!s.ok()) return s;
  if (ctx.json) ctx.PrintJson(json{{"embedded", n}});
  else std::cout << "embedded " << n << " entries" << std::endl;
  return Status::OK();
}

Status Stats(Context& ctx, bool memory) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  if (s.ok() && memory) {
    IndexStatus st;  // loads the index, so that its memory is counted
    s = eng->GetIndexStatus(&st);
  }
  EngineStats st;
  if (s.ok()) s = eng->Stats(&st);
  if (!s.ok()) return s;
  json j = EngineStatsToJson(st);
  if (ctx.json) {
    ctx.PrintJson(j);
    return Status::OK();
  }
  for (auto it = j.begin(); it != j.end(); ++it)
    std::cout << it.key() << ": " << (it->is_string() ? it->get<std::string>() : DumpJson(*it, -1, nullptr)) << "\n";
  std::cout.flush();
  return Status::OK();
}

}  // namespace

void RegisterIndexCommands(CLI::App* app, Context* ctx) {
  auto texts = std::make_shared<std::vector<std::string>>();
  CLI::App* c = AddCommand(app, "embed", "Print the embedding of each text (JSON)", ctx,
                           [texts](Context& x) { return Embed(x, *texts); });
  c->add_option("texts", *texts, "Texts to embed")->required();

  CLI::App* index = app->add_subcommand("index", "The vector index");
  index->require_subcommand(1);
  AddCommand(index, "status", "Entries embedded, missing, mismatched; backend", ctx, IndexStatusCommand);
  auto all = std::make_shared<bool>(false);
  c = AddCommand(index, "rebuild", "Embed the entries that have no embedding", ctx,
                 [all](Context& x) { return IndexRebuild(x, *all); });
  c->add_flag("--all", *all, "Re-embed every entry");

  auto memory = std::make_shared<bool>(false);
  c = AddCommand(app, "stats", "Entries, embeddings, backend, caches, model state, memory", ctx,
                 [memory](Context& x) { return Stats(x, *memory); });
  c->add_flag("--memory", *memory, "Also load the index to report its memory");
}

}  // namespace rekall::cli
