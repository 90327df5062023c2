// The store's plain values that reach the engine's callers: a filter over
// entries and what opening a file found. Kept apart from store.h so that
// engine/engine.h can show them without SQLite's headers.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rekall::store {

struct ListFilter {
  std::optional<std::string> type;
  std::optional<std::string> project;
  // A status asks for entries of that status only. Without one, obsolete
  // entries (Rekall's deprecated ones) are left out of the engine's search,
  // similar and list unless include_obsolete asks for them, as Rekall hides
  // them; the store itself filters only on what is set here.
  std::optional<std::string> status;
  bool include_obsolete = false;
  // Rekall's memory type (episodic or semantic; NULL reads as episodic).
  std::optional<std::string> memory_type;
  std::vector<std::string> tags;  // every tag must be present
  int limit = 0;                  // 0: no limit
};

// Rekall's relation types of a link (the CHECK of its `links` table):
// related (thematic), supersedes (the source replaces the target),
// derived_from (the source was generalised from the target), contradicts.
inline constexpr const char* kRelationTypes[] = {"related", "supersedes", "derived_from", "contradicts"};
inline constexpr const char* kDefaultRelationType = kRelationTypes[0];
inline bool IsRelationType(const std::string& t) {
  for (const char* r : kRelationTypes)
    if (t == r) return true;
  return false;
}

// A row of Rekall's `links`: directed, source -> target; a pair may carry
// several types, never the same one twice.
struct Link {
  std::string id;  // ULID
  std::string source_id;
  std::string target_id;
  std::string relation_type;
  std::string created_at;
  std::optional<std::string> reason;
};

// A pending row of Rekall's `suggestions` (link or generalize).
struct Suggestion {
  std::string id;
  std::string type;
  std::vector<std::string> entry_ids;
  std::string reason;
  double score = 0;  // 0 to 1
  std::string created_at;
};

// A row of Rekall's `sources` (a documentation site), with its themes.
struct Source {
  std::string id;
  std::string domain;
  std::string url_pattern;
  double personal_score = 0;  // 0 to 100
  std::string role;
  std::string status;  // active, inaccessible or archived
  std::optional<std::string> last_verified;
  std::vector<std::string> themes;
};

// What Store::Open() found in the file.
struct SchemaInfo {
  int user_version = 0;          // Rekall's
  int engine_version = 0;        // ours; 0 when we never wrote to it
  bool created = false;          // the file was new
  bool has_embeddings_table = false;
  bool read_only = false;
  bool pending_migration = false;  // changes we need were not applied
  bool migrated = false;           // Open() migrated the file
  std::string backup_path;         // the backup made before migrating
  std::vector<std::string> migration_steps;
};

// A database file as `restore` checks it (store/backup.h).
struct DatabaseFileInfo {
  std::string path;
  int rekall_schema_version = 0;  // PRAGMA user_version
  size_t entries = 0;
  size_t links = 0;
  uint64_t bytes = 0;
};

// Who made a backup file, by its name and folder.
enum class BackupKind {
  kExplicit,    // `rekall backup` (ours or Rekall's), in Rekall's folder
  kPreRestore,  // the safety copy before a restore, in Rekall's folder
  kMigration,   // automatic, beside the database, before a migration
  kDoctor,      // automatic, beside the database, before `doctor --fix`
};
const char* BackupKindName(BackupKind k);  // "backup" | "pre-restore" | "migration" | "doctor"

// One backup file (`backup --list`).
struct BackupFile {
  std::string path;
  std::string modified;  // local time, YYYY-MM-DD HH:MM:SS
  uint64_t bytes = 0;
  BackupKind kind = BackupKind::kExplicit;
};

}  // namespace rekall::store
