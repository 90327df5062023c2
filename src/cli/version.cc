#include "cli/version.h"

#include <sqlite3.h>

#include "config/resources.h"
#include "index/sqlite_vec_index.h"
#include "store/store.h"

namespace rekall::cli {

namespace {

std::string Where(const config::ResourceLocation& loc) {
  return loc.path + " (" + config::ResourceSourceName(loc.source) + ")";
}

// The version vec0.so reports, loaded into a throwaway in-memory database.
std::string SqliteVecVersion(const config::ResourceLocation& loc) {
  if (!loc.found()) return "not found: " + loc.missing;
  sqlite3* db = nullptr;
  std::string version;
  Status s = sqlite3_open(":memory:", &db) == SQLITE_OK ? LoadSqliteVec(db, loc.path, &version)
                                                        : Status::IOError("cannot open an in-memory database");
  sqlite3_close(db);
  if (!s.ok()) return "unusable: " + s.message();
  return version + " at " + Where(loc);
}

}  // namespace

std::string VersionText(const config::Config& cfg) {
  config::ResourceLocation model = config::LocateModel(cfg);
  std::string text = std::string("rekall ") + REKALL_VERSION + " (SQLite " + sqlite3_libversion() + ")\n";
  text += std::string("model: ") + store::kModelName + ", " + std::to_string(store::kDim) + "-d, " +
          (model.found() ? "at " + Where(model) : "not found: " + model.missing) + "\n";
  text += "sqlite-vec: " + SqliteVecVersion(config::LocateSqliteVec(cfg));
  return text;
}

}  // namespace rekall::cli
