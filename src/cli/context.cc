#include "cli/context.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/help.h"
#include "cli/version.h"
#include "store/backup.h"
#include "util/cpu.h"
#include "util/env.h"
#include "util/json.h"
#include "util/utf8.h"

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
    ctx.PrintJson(j);
  }
  return ExitCode(s);
}

// A config file named by --config or REKALL_CONFIG must be one: a name
// that is missing or a directory is a mistake, not "no config".
Status CheckConfigPath(const std::optional<std::string>& option) {
  std::string path = option ? *option : "";
  const char* what = "--config";
  if (!option) {
    const char* env = std::getenv("REKALL_CONFIG");
    if (!env || !*env) return Status::OK();
    path = config::DefaultConfigPath();
    what = "REKALL_CONFIG";
  }
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return Status::InvalidArgument(std::string(what) + ": " + path + " is a directory, not a config file");
  if (::access(path.c_str(), R_OK) != 0)
    return Status::InvalidArgument(std::string(what) + ": config file " + path + " does not exist or is not readable");
  return Status::OK();
}

// Rekall's two-letter short options of `add`, -cj and -ci, as their long
// names: CLI11 knows one-letter short options only (it would read -cj as
// -c with the value "j").
void MapTwoLetterOptions(int argc, char** argv) {
  static char context_json[] = "--context-json", context_interactive[] = "--context-interactive";
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "-cj") argv[i] = context_json;
    else if (a == "-ci") argv[i] = context_interactive;
  }
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
  Status s = CheckConfigPath(config_path);
  if (!s.ok()) return s;
  std::string path = config_path ? *config_path : config::DefaultConfigPath();
  s = config::Load(path, c, &warnings);
  if (!s.ok()) return s;
  for (const auto& w : warnings) std::cerr << "rekall: warning: " << w << std::endl;
  if (!backend.empty()) c->vector_backend = backend;
  if (!model_path.empty()) {
    c->model_path = model_path;
    c->model_path_origin = config::Origin::kOption;
  }
  if (!sqlite_vec_path.empty()) {
    c->sqlite_vec_path = sqlite_vec_path;
    c->sqlite_vec_path_origin = config::Origin::kOption;
  }
  if (threads) c->threads = *threads;  // config::Validate checks it
  s = config::Validate(*c);
  if (!s.ok()) return Status::InvalidArgument("command line: " + s.message());
  return Status::OK();
}

Status Context::MakeEngineOptions(Lifetime lifetime, EngineOptions* o, std::string* db_source) const {
  Status s = LoadConfig(&o->cfg);
  if (!s.ok()) return s;
  if (db && db->empty()) return Status::InvalidArgument("--db is empty: give a database file");
  config::DbLocation loc = config::ResolveDbPath(db.value_or(""), o->cfg);
  o->db_path = loc.path;
  if (db_source) *db_source = loc.source;
  o->create_parent_dirs = loc.default_location;
  o->long_running = lifetime == Lifetime::kLongRunning;
  return Status::OK();
}

Status Context::OpenEngine(std::unique_ptr<Engine>* out, Lifetime lifetime) const {
  EngineOptions o;
  std::string source;
  Status s = MakeEngineOptions(lifetime, &o, &source);
  if (!s.ok()) return s;
  std::string path = o.db_path;
  // Exit code 3 means an unknown entry id; a database file or directory
  // that does not exist is a bad --db (or environment), invalid input,
  // named with where the path came from.
  s = Engine::Open(std::move(o), out);
  if (s.IsNotFound())
    return Status::InvalidArgument(s.message() + (source == "--db" ? "" : " (the path comes from " + source + ")"));
  if (!s.ok()) return s;
  const store::SchemaInfo& sc = (*out)->schema();
  if (sc.migrated && !quiet)
    std::cerr << "rekall: migrated " << path << " (Rekall schema " << sc.user_version << ", kept as is); backup at "
              << sc.backup_path << " (" << FileSizeText(sc.backup_path) << "; the last "
              << store::kAutomaticBackupsKept << " are kept)" << std::endl;
  return s;
}

void Context::Notice(const std::string& notice) const {
  if (!notice.empty() && !quiet) std::cerr << "rekall: " << notice << std::endl;
}

void Context::PrintJson(const nlohmann::json& j) const {
  bool replaced = false;
  std::cout << DumpJson(j, -1, &replaced) << std::endl;
  if (replaced) Notice("invalid UTF-8 in the output replaced with U+FFFD");
}

void Context::PrintText(const std::string& text) const {
  size_t replaced = 0;
  std::cout << ReplaceInvalidUtf8(text, &replaced) << std::flush;
  if (replaced) Notice(std::to_string(replaced) + " invalid UTF-8 sequences replaced with U+FFFD");
}

CLI::App* AddCommand(CLI::App* parent, const std::string& name, const std::string& description, Context* ctx,
                     Command command) {
  CLI::App* sub = parent->add_subcommand(name, description);
  sub->callback([ctx, command = std::move(command)]() { ctx->selected = command; });
  return sub;
}

int Run(int argc, char** argv) {
  if (Status simd = CheckSimdLevel(Env::Default()->GetEnv("REKALL_SIMD_LEVEL")); !simd.ok()) {
    std::cerr << "rekall: " << simd.message() << std::endl;
    return 2;
  }
  CLI::App app{"rekall: a local-first semantic memory for developers. Keep what you learned (bugs, patterns, "
               "decisions) and find it again by meaning, offline."};
  app.name("rekall");
  app.require_subcommand(1);
  Context ctx;
  app.set_version_flag("--version", [&ctx] {
    config::Config c;
    if (!ctx.LoadConfig(&c).ok()) c = config::Config();
    return VersionText(c);
  });
  ctx.RegisterGlobalOptions(&app);
  app.fallthrough();
  RegisterEntryCommands(&app, &ctx);
  RegisterSearchCommands(&app, &ctx);
  RegisterIoCommands(&app, &ctx);
  RegisterIndexCommands(&app, &ctx);
  RegisterServeCommand(&app, &ctx);
  RegisterAdminCommands(&app, &ctx);
  RegisterVacuumCommand(&app, &ctx);
  RegisterLinkCommands(&app, &ctx);
  RegisterMaintenanceCommands(&app, &ctx);
  RegisterBackupCommands(&app, &ctx);
  RegisterCatalogCommands(&app, &ctx);
  AddExamples(&app);
  if (argc == 1) {  // a bare `rekall` asks what it can do
    std::cout << app.help() << std::flush;
    return 0;
  }
  MapTwoLetterOptions(argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::string unknown = e.get_exit_code() == 0 ? "" : UnknownCommandMessage(&app, argc, argv);
    if (!unknown.empty()) {
      std::cerr << "rekall: " << unknown << std::endl;
      return 2;
    }
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return Finish(ctx, ctx.selected(ctx));
}

void FilterOptions::Register(CLI::App* cmd) {
  cmd_ = cmd;
  cmd->add_option("--type,-t", type_, "Only this type");
  cmd->add_option("--project,-p", project_, "Only this project");
  cmd->add_option("--tag", tags_, "Only entries with this tag (repeatable: all required)");
  cmd->add_option("--status", status_, "active or obsolete");
  cmd->add_flag("--include-obsolete", include_obsolete_, kIncludeObsoleteHelp);
  cmd->add_option("--memory-type,-m", memory_type_, kMemoryTypeHelp);
}

store::ListFilter FilterOptions::ToFilter() const {
  store::ListFilter f;
  if (cmd_->count("--type")) f.type = type_;
  if (cmd_->count("--project")) f.project = project_;
  if (cmd_->count("--status")) f.status = status_;
  if (cmd_->count("--memory-type")) f.memory_type = memory_type_;
  f.include_obsolete = include_obsolete_;
  f.tags = SplitTags(tags_);
  return f;
}

std::string SizeText(uint64_t bytes) {
  char buf[32];
  if (bytes < 1024) return std::to_string(bytes) + " B";
  if (bytes < 1024 * 1024) std::snprintf(buf, sizeof buf, "%.1f KB", static_cast<double>(bytes) / 1024);
  else std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / (1024 * 1024));
  return buf;
}

std::string FileSizeText(const std::string& path) {
  std::error_code ec;
  uint64_t n = std::filesystem::file_size(path, ec);
  return ec ? "size unknown" : SizeText(n);
}

bool AskYesNo(const std::string& question, bool default_yes) {
  std::cerr << question << (default_yes ? " [Y/n] " : " [y/N] ") << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) return false;  // end of input: never a yes
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos) return default_yes;
  return line[first] == 'y' || line[first] == 'Y';
}

bool StdinIsTerminal() { return isatty(STDIN_FILENO) != 0; }

std::string ReadAll(std::istream& in) {
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> SplitTags(const std::vector<std::string>& in) {
  std::vector<std::string> out;
  for (const auto& t : in) {
    std::string part;
    for (size_t i = 0; i < t.size(); ++i) {
      bool escaped = t[i] == '\\' && i + 1 < t.size() && (t[i + 1] == ',' || t[i + 1] == '\\');
      if (escaped) part += t[++i];
      else if (t[i] == ',') out.push_back(std::move(part)), part.clear();
      else part += t[i];
    }
    if (!part.empty()) out.push_back(std::move(part));
  }
  return out;
}

}  // namespace rekall::cli
