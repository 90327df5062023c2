#include "cli/context.h"

#include <unistd.h>

#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "util/version.h"

namespace rekall::cli {

namespace {

int ExitCode(const Status& s) {
  switch (s.code()) {
    case Code::kOk: return 0;
    case Code::kInvalidArgument: return 2;
    case Code::kNotFound: return 3;
    case Code::kCancelled: return 130;
    default: return 1;
  }
}

// The one place a command's outcome becomes what the user sees of a failure
// and the exit code.
int Finish(const Context& ctx, const Status& s) {
  if (s.ok()) return ctx.failed ? 1 : 0;
  std::cerr << "rekall: " << s.message() << std::endl;
  if (ctx.json && !ctx.stdout_is_protocol) {
    nlohmann::json j = {{"error", {{"code", CodeName(s.code())}, {"message", s.message()}}}};
    std::cout << j.dump() << std::endl;
  }
  return ExitCode(s);
}

}  // namespace

void Context::RegisterGlobalOptions(CLI::App* app) {
  app->add_option("--db", db, "Database file (default: as Rekall finds it: REKALL_HOME, REKALL_DB_PATH, "
                              "./.rekall, config data_dir, ~/.local/share/rekall/knowledge.db)");
  app->add_option("--config", config_path, "Config file (default: $XDG_CONFIG_HOME/rekall/config.toml)");
  app->add_flag("--json", json, "Machine-readable JSON output");
  app->add_flag("--quiet,-q", quiet, "No notices on stderr");
  app->add_option("--backend", backend, "Vector backend: auto, sqlite-vec or brute");
  app->add_option("--model-path", model_path, "Folder of the all-MiniLM-L6-v2 model files");
  app->add_option("--sqlite-vec-path", sqlite_vec_path, "Path of the sqlite-vec extension (vec0.so)");
  app->add_option("--threads", threads, "Threads for embedding and scanning (0: all cores)");
}

Status Context::LoadConfig(config::Config* c) const {
  std::vector<std::string> warnings;
  std::string path = config_path.empty() ? config::DefaultConfigPath() : config_path;
  if (!config_path.empty() && ::access(path.c_str(), R_OK) != 0)
    return Status::NotFound("config file " + path + " does not exist or is not readable");
  Status s = config::Load(path, c, &warnings);
  if (!s.ok()) return s;
  for (const auto& w : warnings) std::cerr << "rekall: warning: " << w << std::endl;
  if (!backend.empty()) c->vector_backend = backend;
  if (!model_path.empty()) c->model_path = model_path;
  if (!sqlite_vec_path.empty()) c->sqlite_vec_path = sqlite_vec_path;
  if (threads >= 0) c->threads = threads;
  s = config::Validate(*c);
  if (!s.ok()) return Status::InvalidArgument("command line: " + s.message());
  return Status::OK();
}

Status Context::MakeEngineOptions(Lifetime lifetime, EngineOptions* o) const {
  Status s = LoadConfig(&o->cfg);
  if (!s.ok()) return s;
  config::DbLocation loc = config::ResolveDbPath(db, o->cfg);
  o->db_path = loc.path;
  o->create_parent_dirs = loc.default_location;
  o->long_running = lifetime == Lifetime::kLongRunning;
  return Status::OK();
}

Status Context::OpenEngine(std::unique_ptr<Engine>* out, Lifetime lifetime) const {
  EngineOptions o;
  Status s = MakeEngineOptions(lifetime, &o);
  if (!s.ok()) return s;
  std::string path = o.db_path;
  if (!(s = Engine::Open(std::move(o), out)).ok()) return s;
  const store::SchemaInfo& sc = (*out)->schema();
  if (sc.migrated && !quiet)
    std::cerr << "rekall: migrated " << path << " (Rekall schema " << sc.user_version << ", kept as is); backup at "
              << sc.backup_path << std::endl;
  return s;
}

void Context::Notice(const std::string& notice) const {
  if (!notice.empty() && !quiet) std::cerr << "rekall: " << notice << std::endl;
}

CLI::App* AddCommand(CLI::App* parent, const std::string& name, const std::string& description, Context* ctx,
                     Command command) {
  CLI::App* sub = parent->add_subcommand(name, description);
  sub->callback([ctx, command = std::move(command)]() { ctx->selected = command; });
  return sub;
}

int Run(int argc, char** argv) {
  CLI::App app{"rekall: a local-first semantic memory for developers. Keep what you learned (bugs, patterns, "
               "decisions) and find it again by meaning, offline."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("rekall ") + kVersion);
  Context ctx;
  ctx.RegisterGlobalOptions(&app);
  app.fallthrough();
  RegisterEntryCommands(&app, &ctx);
  RegisterSearchCommands(&app, &ctx);
  RegisterIoCommands(&app, &ctx);
  RegisterIndexCommands(&app, &ctx);
  RegisterServeCommand(&app, &ctx);
  RegisterAdminCommands(&app, &ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return Finish(ctx, ctx.selected(ctx));
}

std::string ReadAll(std::istream& in) {
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitTags(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& t : in) {
    std::stringstream ss(t);
    std::string part;
    while (std::getline(ss, part, ',')) out.push_back(part);
  }
  return out;
}

}  // namespace rekall::cli
