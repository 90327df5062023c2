// Configuration: Rekall's config.toml (its [performance] keys) plus ours,
// overridden by environment variables, then by command-line options.
//
// config.toml is Rekall's own file and may hold sections we know nothing
// about: we only read it, never write it, and only check the keys of the
// sections we own ([performance] and [engine]).
#pragma once

#include <string>
#include <vector>

#include "util/env.h"
#include "util/precision.h"
#include "util/status.h"

namespace rekall::config {

// How the functions below reach the system.
struct Options {
  // Environment variables, $HOME, and which files and folders exist
  // (tests pass a fake).
  Env* env = Env::Default();
};

// Which layer set a value: resources.h reports it ("model from the
// environment") and lets an explicit setting win over every lookup.
enum class Origin { kDefault, kConfigFile, kEnvironment, kOption };

struct Config {
  // [performance], with Rekall's defaults.
  long cache_max_size = 1000;
  long cache_ttl_seconds = 600;
  long model_idle_timeout_minutes = 10;
  std::string vector_backend = "auto";  // auto | sqlite-vec | brute

  // [engine]: ours.
  std::string model_path;         // folder with model.safetensors, vocab.txt...
  std::string sqlite_vec_path;    // vec0.so
  Origin model_path_origin = Origin::kDefault;       // kDefault: empty, looked up (resources.h)
  Origin sqlite_vec_path_origin = Origin::kDefault;
  long threads = 0;               // 0: all cores
  double model_load_wait_seconds = 5.0;  // server: wait this long for a loading model
  bool warm_model = false;        // server: load the model in the background at start
  // The embedder's arithmetic (REKALL_PRECISION): fp32 (exact, the default)
  // or bf16; Validate refuses a precision that does not ship, with the reason.
  Precision precision = Precision::kFp32;
  // Finer idle timeout, for tests and short-lived experiments: when >= 0 it
  // replaces model_idle_timeout_minutes (REKALL_MODEL_IDLE_TIMEOUT_SECONDS).
  long model_idle_timeout_seconds = -1;

  // [smart_embeddings], Rekall's: `enabled` makes an add also embed the
  // entry's structured context (Rekall's second, 'context' embedding), which
  // our semantic and hybrid search then use beside the summary. (Summaries
  // are embedded either way: our search needs them.)
  bool smart_embeddings = false;

  // Top level, as Rekall reads it: where knowledge.db lives.
  std::string data_dir;

  std::string loaded_from;  // the config file read, empty if none
};

// The config file to read: $REKALL_CONFIG, else $REKALL_HOME/config.toml,
// else $XDG_CONFIG_HOME/rekall/config.toml (~/.config/rekall/config.toml).
std::string DefaultConfigPath(const Options& o = Options());

// Reads `path` (a missing file is fine: defaults), then the environment
// (REKALL_CACHE_MAX_SIZE, REKALL_CACHE_TTL_SECONDS,
// REKALL_MODEL_IDLE_TIMEOUT_MINUTES, REKALL_VECTOR_BACKEND, REKALL_MODEL_PATH,
// REKALL_SQLITE_VEC_PATH, REKALL_THREADS, REKALL_PRECISION). Unknown keys in our sections add
// a warning; an invalid value is an error naming the key and the file.
Status Load(const std::string& path, Config* c, std::vector<std::string>* warnings,
            const Options& o = Options());

// Checks ranges and choices (also after command-line overrides).
Status Validate(const Config& c);

// Finds the database as Rekall does: --db, then $REKALL_HOME/knowledge.db,
// then $REKALL_DB_PATH, then ./.rekall/knowledge.db when ./.rekall exists,
// then data_dir from the config, then $XDG_DATA_HOME/rekall/knowledge.db
// (~/.local/share/rekall/knowledge.db). `source` names the rule that won;
// `default_location` is true when the folder is Rekall's to create (all but
// --db and REKALL_DB_PATH, which name a file whose folder must exist).
struct DbLocation {
  std::string path;
  std::string source;
  bool default_location = false;
};
DbLocation ResolveDbPath(const std::string& cli_db, const Config& c, const Options& o = Options());

// Expands a leading ~/ ($HOME).
std::string ExpandHome(const std::string& p, const Options& o = Options());

}  // namespace rekall::config
