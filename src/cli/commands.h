// The command groups of `rekall`, one file each. Run (context.cc) registers
// them in this order, which is the order `rekall --help` lists them in.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/context.h"
#include "store/types.h"

namespace rekall::cli {

void RegisterEntryCommands(CLI::App* app, Context* ctx);   // entries.cc: add show list edit delete
void RegisterSearchCommands(CLI::App* app, Context* ctx);  // search.cc: search similar
void RegisterIoCommands(CLI::App* app, Context* ctx);      // io.cc: import export
void RegisterIndexCommands(CLI::App* app, Context* ctx);   // index.cc: embed index stats
void RegisterServeCommand(CLI::App* app, Context* ctx);    // serve.cc: serve mcp-config
void RegisterAdminCommands(CLI::App* app, Context* ctx);   // admin.cc: migrate doctor
void RegisterVacuumCommand(CLI::App* app, Context* ctx);   // vacuum.cc: vacuum
void RegisterLinkCommands(CLI::App* app, Context* ctx);    // links.cc: link unlink related graph
void RegisterMaintenanceCommands(CLI::App* app, Context* ctx);  // maintenance.cc: stale generalize review
void RegisterBackupCommands(CLI::App* app, Context* ctx);  // backup.cc: backup restore
void RegisterCatalogCommands(CLI::App* app, Context* ctx);  // catalog.cc: browse deprecate info

// The help of --include-obsolete (list, search, similar).
inline constexpr const char* kIncludeObsoleteHelp = "Also obsolete (deprecated) entries, hidden otherwise";
// And of --memory-type (list, search).
inline constexpr const char* kMemoryTypeHelp = "Only this memory type: episodic or semantic (Rekall's)";

// The filter options `list`, `browse` and `search` share (--type/-t,
// --project/-p, --tag, --status, --include-obsolete, --memory-type/-m: the
// short ones Rekall's), declared once.
class FilterOptions {
 public:
  // Declares them on `cmd`, which ToFilter asks which were given.
  void Register(CLI::App* cmd);
  // The engine's filter: each field set only when its option was given (the
  // engine checks the values).
  store::ListFilter ToFilter() const;

 private:
  CLI::App* cmd_ = nullptr;
  std::string type_, project_, status_, memory_type_;
  std::vector<std::string> tags_;
  bool include_obsolete_ = false;
};

// `list` and `browse`: the entries the filter selects, newest first, one
// line each (with --json, an array of entries).
Status ListEntries(Context& ctx, const store::ListFilter& f);

}  // namespace rekall::cli
