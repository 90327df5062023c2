// The command groups of `rekall`, one file each. Run (context.cc) registers
// them in this order, which is the order `rekall --help` lists them in.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/context.h"

namespace rekall::cli {

void RegisterEntryCommands(CLI::App* app, Context* ctx);   // entries.cc: add show list edit delete
void RegisterSearchCommands(CLI::App* app, Context* ctx);  // search.cc: search similar
void RegisterIoCommands(CLI::App* app, Context* ctx);      // io.cc: import export
void RegisterIndexCommands(CLI::App* app, Context* ctx);   // index.cc: embed index stats
void RegisterServeCommand(CLI::App* app, Context* ctx);    // serve.cc: serve mcp-config
void RegisterAdminCommands(CLI::App* app, Context* ctx);   // admin.cc: migrate doctor

// The help of --include-obsolete (list, search, similar).
inline constexpr const char* kIncludeObsoleteHelp = "Also obsolete (deprecated) entries, hidden otherwise";
// And of --memory-type (list, search).
inline constexpr const char* kMemoryTypeHelp = "Only this memory type: episodic or semantic (Rekall's)";

}  // namespace rekall::cli
