#include "cli/version.h"

#include "config/resources.h"
#include "engine/engine.h"
#include "util/our_embeddings.h"
#include "util/version.h"

namespace rekall::cli {

namespace {

std::string Where(const config::ResourceLocation& loc) {
  return loc.path + " (" + config::ResourceSourceName(loc.source) + ")";
}

std::string SqliteVecVersion(const config::ResourceLocation& loc) {
  if (!loc.found()) return "not found: " + loc.missing;
  std::string version;
  Status s = Engine::SqliteVecVersion(loc.path, &version);
  if (!s.ok()) return "unusable: " + s.message();
  return version + " at " + Where(loc);
}

}  // namespace

std::string VersionText(const config::Config& cfg) {
  config::ResourceLocation model = config::LocateModel(cfg);
  std::string text = std::string("rekall ") + kVersion + " (SQLite " + Engine::SqliteVersion() + ")\n";
  text += std::string("model: ") + kOurModelName + ", " + std::to_string(kOurDim) + "-d, " +
          (model.found() ? "at " + Where(model) : "not found: " + model.missing) + "\n";
  text += "sqlite-vec: " + SqliteVecVersion(config::LocateSqliteVec(cfg));
  return text;
}

}  // namespace rekall::cli
