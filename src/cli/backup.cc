// rekall backup | restore: whole-file copies of the knowledge base, made
// and restored through SQLite's online backup API (engine's Backup/Restore),
// in Rekall's backup folder so that either tool finds the other's.
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

struct BackupOptions {
  std::string output;
  bool list = false;
};

struct RestoreOptions {
  std::string file;
  bool no_safety = false;
  bool yes = false;
};

json BackupJson(const store::BackupFile& b) {
  return {{"path", b.path}, {"bytes", b.bytes}, {"modified", b.modified}, {"kind", store::BackupKindName(b.kind)}};
}

Status ListBackups(Context& ctx, const EngineOptions& eo) {
  std::vector<store::BackupFile> list;
  Status s = Engine::ListBackups(eo, &list);
  if (!s.ok()) return s;
  if (ctx.json) {
    json j = json::array();
    for (const auto& b : list) j.push_back(BackupJson(b));
    ctx.PrintJson(j);
    return Status::OK();
  }
  std::string text;
  for (const auto& b : list)
    text += b.modified + "  " + SizeText(b.bytes) + "  " + store::BackupKindName(b.kind) + "  " + b.path + "\n";
  ctx.PrintText(list.empty() ? "No backups of " + eo.db_path + "\n" : text);
  return Status::OK();
}

Status Backup(Context& ctx, const BackupOptions& o) {
  EngineOptions eo;
  Status s = ctx.MakeEngineOptions(Lifetime::kOneShot, &eo);
  if (!s.ok()) return s;
  if (o.list) return ListBackups(ctx, eo);
  store::BackupFile b;
  if (!(s = Engine::Backup(eo, o.output, &b)).ok()) return s;
  if (ctx.json) ctx.PrintJson(BackupJson(b));
  else ctx.PrintText("Backup created: " + b.path + "\n  Size: " + SizeText(b.bytes) + "\n");
  return Status::OK();
}

// Restoring replaces the database: a person at a terminal is asked (no by
// default); a script must say -y, never restore by default.
Status ConfirmRestore(const RestoreOptions& o) {
  if (o.yes) return Status::OK();
  if (!StdinIsTerminal())
    return Status::InvalidArgument("restore replaces the database: add --yes to confirm (stdin is not a terminal); "
                                   "nothing was restored");
  if (AskYesNo("Restore this backup? The current database will be replaced", false)) return Status::OK();
  return Status::Cancelled("nothing was restored");
}

Status Restore(Context& ctx, const RestoreOptions& o) {
  EngineOptions eo;
  Status s = ctx.MakeEngineOptions(Lifetime::kOneShot, &eo);
  store::DatabaseFileInfo info;
  if (s.ok()) s = Engine::InspectBackup(eo, o.file, &info);
  if (!s.ok()) return s.Append(s.IsInvalidArgument() ? "; nothing was restored" : "");
  if (!ctx.json)
    std::cerr << "Backup " << o.file << ": " << info.entries << " entries, " << info.links << " links, "
              << SizeText(info.bytes) << " (Rekall schema " << info.rekall_schema_version << ")" << std::endl;
  if (!(s = ConfirmRestore(o)).ok()) return s;
  std::string safety;
  if (!(s = Engine::Restore(eo, o.file, !o.no_safety, &info, &safety)).ok()) return s;
  if (ctx.json) {
    ctx.PrintJson({{"restored_from", o.file}, {"database", eo.db_path}, {"entries", info.entries},
                   {"links", info.links}, {"safety_backup", safety.empty() ? json(nullptr) : json(safety)}});
    return Status::OK();
  }
  ctx.PrintText("Database restored from: " + o.file + "\n  Entries: " + std::to_string(info.entries) +
                " | Links: " + std::to_string(info.links) + "\n" +
                (safety.empty() ? "" : "  The database before: " + safety + " (" + FileSizeText(safety) + ")\n"));
  return Status::OK();
}

}  // namespace

void RegisterBackupCommands(CLI::App* app, Context* ctx) {
  auto backup = std::make_shared<BackupOptions>();
  CLI::App* c = AddCommand(app, "backup",
                           "Copy the database, consistently even while in use (default: a dated file in Rekall's "
                           "~/.rekall/backups/); --list the backups",
                           ctx, [backup](Context& x) { return Backup(x, *backup); });
  CLI::Option* out = c->add_option("--output,-o", backup->output, "Write the copy here (a new file)");
  c->add_flag("--list", backup->list, "List the backups of this database and Rekall's, with date and size")
      ->excludes(out);

  auto restore = std::make_shared<RestoreOptions>();
  c = AddCommand(app, "restore",
                 "Replace the database by a backup, after checking it and backing up the current one",
                 ctx, [restore](Context& x) { return Restore(x, *restore); });
  c->add_option("file", restore->file, "The backup to restore")->required();
  c->add_flag("--no-safety", restore->no_safety, "Do not back up the current database first");
  c->add_flag("--yes,-y", restore->yes, "Do not ask (needed when stdin is not a terminal)");
}

}  // namespace rekall::cli
