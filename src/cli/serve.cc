// rekall serve: the knowledge base over MCP (stdio); rekall mcp-config: how
// an agent client starts it.
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/mcp_config.h"
#include "server/mcp_server.h"
#include "server/process.h"
#include "server/rekall_handler.h"
#include "server/rekall_tools.h"

namespace rekall::cli {

namespace {

struct ServeOptions {
  int workers = 2;
  bool warm = false;
  bool background_embedding = true;
};

Status Serve(Context& ctx, const ServeOptions& o) {
  // stdout carries the protocol: everything else goes to stderr, and
  // nothing may be printed before the protocol descriptor is reserved.
  ctx.stdout_is_protocol = true;
  server::TuneMallocForServer();
  // A long-running process: with vector_backend = auto the engine searches
  // an in-memory matrix (p50 6 ms instead of 11 ms at 10K entries, for ~15 MB
  // more resident: bench/soak/RESULTS.md); `--backend sqlite-vec` keeps the
  // vectors on disk.
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng, Lifetime::kLongRunning);
  if (!s.ok()) return s;
  int out = server::ReserveStdoutForProtocol();
  if (out < 0) {
    std::perror("rekall serve: cannot reserve stdout for the protocol");
    ctx.failed = true;
    return Status::OK();
  }
  // Opening the engine did not load the model, so initialize and
  // tools/list are answered at once; a warm-up loads it in the background.
  if (o.warm || eng->config().warm_model) eng->WarmModel();
  // The vector index loads now, while the client initializes and the model
  // loads on the first search: that search no longer pays for both in turn.
  eng->WarmIndex();
  // A Rekall file that never had embeddings (Rekall's default) gets them
  // while we serve; rekall_info follows the progress.
  if (o.background_embedding) eng->StartBackgroundEmbedding();
  if (!ctx.quiet)
    std::cerr << "rekall serve: " << eng->path() << " (model " << ModelStateName(eng->model_state())
              << ", waits up to " << eng->config().model_load_wait_seconds
              << " s for a loading model); MCP over stdio" << std::endl;
  server::RekallToolHandler handler(eng.get());
  server::ServerOptions opts;
  opts.worker_threads = o.workers;
  opts.instructions = server::kRekallInstructions;
  int rc = server::McpServer(&handler, opts).Run(STDIN_FILENO, out);
  ::close(out);
  ctx.failed = rc != 0;  // the server logged why
  return Status::OK();
}

Status McpConfig(Context& ctx, const std::string& client) {
  EngineOptions o;
  Status s = ctx.MakeEngineOptions(Lifetime::kLongRunning, &o);
  std::string text, where;
  if (s.ok()) s = McpConfigText(client, MakeServeCommand(o.db_path, ctx.config_path.value_or("")), &text, &where);
  if (!s.ok()) return s;
  std::cout << text << std::flush;
  ctx.Notice(where);
  return Status::OK();
}

}  // namespace

void RegisterServeCommand(CLI::App* app, Context* ctx) {
  auto o = std::make_shared<ServeOptions>();
  CLI::App* c = AddCommand(app, "serve", "Serve the knowledge base to AI agents over MCP (stdio)", ctx,
                           [o](Context& x) { return Serve(x, *o); });
  // Rekall's name of the command, and the one its documentation uses.
  c->alias("mcp-server")->alias("mcp");
  c->add_option("--workers", o->workers, "Threads running tool calls")->check(CLI::Range(1, 64));
  c->add_flag("--warm", o->warm, "Load the model in the background at start (also: [engine] warm_model)");
  c->add_flag("!--no-background-embedding", o->background_embedding,
              "Don't embed entries that lack an embedding in the background (they wait for `rekall index rebuild`)");

  auto client = std::make_shared<std::string>();
  c = AddCommand(app, "mcp-config", "Print the snippet that registers `rekall serve` with an agent client", ctx,
                 [client](Context& x) { return McpConfig(x, *client); });
  c->add_option("client", *client, "claude-code, claude-desktop, cursor or vscode (default: all four)");
}

}  // namespace rekall::cli
