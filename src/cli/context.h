// The `rekall` command's frame, shared by every command group (llama.cpp's
// common/arg.cpp is the model): the global options, declared once; how a
// command loads the config and opens the engine; and the one place where a
// command's Status becomes the error the user sees and the exit code.
//
// A command group (entries.cc, search.cc, ...) registers its subcommands with
// AddCommand; each runs as a function `Status (Context&)` after the whole
// command line has been parsed, prints its own results, and returns why it
// failed instead of printing it.
#pragma once

#include <cstdint>
#include <functional>
#include <istream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "engine/engine.h"
#include "util/status.h"

namespace rekall::cli {

// How long the process that opens the engine lives.
enum class Lifetime {
  kOneShot,      // one command, then exit
  kLongRunning,  // the server: EngineOptions::long_running
};

struct Context;
using Command = std::function<Status(Context&)>;

struct Context {
  // Global options: accepted before or after the command name.
  std::optional<std::string> db;           // --db
  std::optional<std::string> config_path;  // --config
  bool json = false;        // --json: results and errors as JSON on stdout
  bool quiet = false;       // --quiet: no notices on stderr
  std::string backend;      // --backend, over the config's vector_backend
  std::string model_path;   // --model-path
  std::string sqlite_vec_path;  // --sqlite-vec-path
  std::optional<long> threads;  // --threads; unset: as configured

  // The command given, set while the command line is parsed.
  Command selected;

  // Set by the command that runs.
  // stdout belongs to a protocol (serve): errors go to stderr only.
  bool stdout_is_protocol = false;
  // The command ran and reported its outcome, which is a failure (doctor
  // found errors; the server's input broke): exit 1 without an error line.
  bool failed = false;

  // Declares the global options on the top-level app.
  void RegisterGlobalOptions(CLI::App* app);

  // The config file (or --config), then the environment, then the options
  // above. Warnings go to stderr.
  Status LoadConfig(config::Config* c) const;

  // The config (as LoadConfig) and the database path found as Rekall finds
  // it, for a process of that lifetime.
  // *db_source (when given) names where the path came from ("--db",
  // "REKALL_HOME", ...).
  Status MakeEngineOptions(Lifetime lifetime, EngineOptions* o, std::string* db_source = nullptr) const;

  // Opens the database found as Rekall finds it, and says on stderr (unless
  // --quiet) when opening it migrated the file.
  Status OpenEngine(std::unique_ptr<Engine>* out, Lifetime lifetime = Lifetime::kOneShot) const;

  // One line on stderr, unless --quiet or empty.
  void Notice(const std::string& notice) const;

  // `j` as one line on stdout. Never aborts: bytes that are not valid UTF-8
  // (a stored text Rekall or another tool wrote, an id typed by the user)
  // become U+FFFD, and a notice on stderr says so (unless --quiet).
  void PrintJson(const nlohmann::json& j) const;
  // `text` on stdout as is, but for invalid UTF-8, replaced likewise.
  void PrintText(const std::string& text) const;
};

// Adds subcommand `name` to `parent`; `command` runs if it is the one given.
CLI::App* AddCommand(CLI::App* parent, const std::string& name, const std::string& description, Context* ctx,
                     Command command);

// Parses argv, runs the command given, and returns the process exit code:
// 0 ok; 1 failure (I/O, corruption, model unavailable...); 2 invalid input or
// usage; 3 unknown id; 130 cancelled. Errors are printed here, once:
// "rekall: <message>" on stderr and, with --json, {"error": {"code",
// "message"}} on stdout.
int Run(int argc, char** argv);

// Helpers for the command groups.
std::string ReadAll(std::istream& in);
// "512 B", "12.3 KB", "4.0 MB".
std::string SizeText(uint64_t bytes);
// SizeText of the file at `path`, or "size unknown".
std::string FileSizeText(const std::string& path);
// Asks `question` on stderr and reads the answer from stdin: an empty line
// is `default_yes`; the end of input is no.
bool AskYesNo(const std::string& question, bool default_yes);
// Whether stdin is a terminal (a person who can answer a question).
bool StdinIsTerminal();
// Tags given as repeated options, each possibly comma-separated. A comma
// after a backslash (\,) belongs to the tag, and \\ is one backslash, so
// every tag can be named from the command line.
std::vector<std::string> SplitTags(const std::vector<std::string>& in);

}  // namespace rekall::cli
