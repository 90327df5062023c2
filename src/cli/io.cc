// rekall import | export
#include <cerrno>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/progress.h"
#include "util/env.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

struct ImportOptions {
  std::string file;
  std::string format;    // empty: from the file name
  std::string strategy;  // empty: the format's default
  bool no_embed = false;
  bool dry_run = false;
  bool yes = false, no_backup = false;  // Rekall's; accepted (see their help)
};

// The format asked for, or the one the file name says (JSON Lines for stdin
// and other names). For a file written, a name that says another format
// than the one asked for is refused: one format is never written under
// another's name. A file read is read as asked (a JSON Lines file someone
// named .json).
Status ResolveFormat(const std::string& asked, const std::string& file, bool writing, ExchangeFormat* out) {
  ExchangeFormat named = ExchangeFormat::kJsonLines;
  bool has_name = file != "-" && !file.empty() && ExchangeFormatOfName(file, &named);
  if (asked.empty()) {
    *out = named;
    return Status::OK();
  }
  Status s = ParseExchangeFormat(asked, out);
  if (s.ok() && writing && has_name && named != *out)
    s = Status::InvalidArgument(file + " is named as " + ExchangeFormatName(named) + ", not " + asked +
                                "; name it for its format, or drop --format");
  return s;
}

// A dry run: what the import would do, entry by entry.
void PrintDryRun(const Context& ctx, const ImportReport& r) {
  if (ctx.json) {
    json items = json::array();
    for (const auto& it : r.items)
      items.push_back({{"id", it.id}, {"title", it.title}, {"action", ImportActionName(it.action)},
                       {"exists", it.exists}, {"changed", it.changed}});
    ctx.PrintJson(json{{"dry_run", true}, {"added", r.added}, {"replaced", r.replaced}, {"merged", r.merged},
                       {"skipped", r.skipped}, {"entries", items}});
    return;
  }
  if (!r.archive_version.empty())
    std::cout << "archive: format " << r.archive_version << ", created " << r.archive_created_at << ", "
              << r.archive_entries << " entries" << std::endl;
  for (const auto& it : r.items) {
    std::string what = !it.exists ? "new" : it.changed.empty() ? "identical" : "changed";
    std::string changed;
    for (const auto& f : it.changed) changed += (changed.empty() ? " (" : ", ") + f;
    if (!changed.empty()) changed += ")";
    std::cout << ImportActionName(it.action) << "  " << (it.id.empty() ? "(new id)" : it.id) << "  " << what
              << changed << "  " << it.title << std::endl;
  }
  std::cout << "dry run: would add " << r.added << ", replace " << r.replaced << ", merge " << r.merged
            << ", skip " << r.skipped << "; nothing was changed" << std::endl;
}

// Runs the import on an open engine and prints what it did.
Status ImportInto(Context& ctx, const ImportOptions& o, Engine* eng, std::istream* in, ImportRequest* request) {
  ImportRequest& req = *request;
  Status s;
  req.embed = !o.no_embed;
  req.dry_run = o.dry_run;
  // On a terminal only: an import's output in a log stays as it was.
  Progress bar("embedded", !ctx.quiet && !ctx.json && isatty(STDERR_FILENO));
  req.progress = [&](size_t done, size_t total) { bar.Update(done, total); };
  ImportReport r;
  if (!(s = eng->Import(*in, req, &r)).ok()) return s;
  if (o.dry_run) {
    PrintDryRun(ctx, r);
    return Status::OK();
  }
  ctx.Notice(r.notice);
  size_t n = r.added + r.replaced + r.merged;
  if (ctx.json)
    ctx.PrintJson(json{{"imported", n}, {"skipped", r.skipped}, {"added", r.added}, {"replaced", r.replaced},
                       {"merged", r.merged}});
  else
    std::cout << "imported " << n << " entries" << (r.skipped ? ", skipped " + std::to_string(r.skipped) : "")
              << (r.merged ? " (" + std::to_string(r.merged) + " merged as copies with new ids)" : "") << std::endl;
  return Status::OK();
}

Status Import(Context& ctx, const ImportOptions& o) {
  ImportRequest req;
  Status s = ResolveFormat(o.format, o.file, false, &req.format);
  // Rekall's formats default to Rekall's strategy (skip); ours to error.
  bool rekall_format = req.format != ExchangeFormat::kJsonLines;
  req.on_conflict = rekall_format ? OnConflict::kSkip : OnConflict::kError;
  if (s.ok() && !o.strategy.empty()) s = ParseOnConflict(o.strategy, &req.on_conflict);
  if (!s.ok()) return s;
  std::ifstream f;
  std::istream* in = &std::cin;
  if (o.file != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(o.file, ec)) return Status::InvalidArgument(o.file + " is a directory, not a file");
    f.open(o.file, std::ios::binary);
    if (!f) return Status::InvalidArgument("cannot read " + o.file + ": " + std::strerror(errno));
    in = &f;
  }
  // A database this import creates is removed again when nothing lands in
  // it (a dry run, a refused file): a typo in --db leaves no empty file.
  EngineOptions where;
  std::error_code ec;
  bool created = ctx.MakeEngineOptions(Lifetime::kOneShot, &where).ok() &&
                 !std::filesystem::exists(std::filesystem::symlink_status(where.db_path, ec));
  std::unique_ptr<Engine> eng;
  if (!(s = ctx.OpenEngine(&eng)).ok()) return s;
  s = ImportInto(ctx, o, eng.get(), in, &req);
  if (created && (o.dry_run || !s.ok())) {
    eng.reset();
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) std::filesystem::remove(where.db_path + suffix, ec);
  }
  return s;
}

// Writes beside, then renames: an interrupted export never leaves a
// half-written file under the name asked for. An export holds the same
// knowledge as the database, so it is private like it: the temporary file is
// created new (never one that was there, nor a link) with mode 0600 whatever
// the umask, and the rename keeps that mode.
Status ExportToFile(Engine* eng, const std::string& file, ExchangeFormat format, const store::ListFilter& only,
                    size_t* n, std::string* notice) {
  std::string tmp = file + ".tmp-" + std::to_string(::getpid());
  Status s = Env::Default()->CreateNewFile(tmp, 0600);
  if (!s.ok()) return Status::IOError("cannot write export: " + s.message());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) s = Status::IOError("cannot write " + tmp);
    else s = eng->Export(f, format, only, n, notice);
  }
  if (s.ok()) s = Env::Default()->SyncFile(tmp);
  if (s.ok() && std::rename(tmp.c_str(), file.c_str()) != 0) s = Status::IOError("cannot write " + file);
  if (!s.ok()) std::remove(tmp.c_str());
  return s;
}

// Where an export may go: a file in an existing folder, never the open
// database (or its -wal, -shm, -journal) nor any other SQLite database, which
// the rename would replace with text.
Status CheckExportTarget(const std::string& file, const std::string& db_path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::is_directory(file, ec)) return Status::InvalidArgument(file + " is a directory: name the export file");
  fs::path parent = fs::absolute(file, ec).parent_path();
  if (!fs::is_directory(parent, ec))
    return Status::InvalidArgument("cannot export to " + file + ": folder " + parent.string() + " does not exist");
  fs::path target = fs::weakly_canonical(file, ec), db = fs::weakly_canonical(db_path, ec);
  for (const char* suffix : {"", "-wal", "-shm", "-journal"})
    if (target == fs::path(db.string() + suffix))
      return Status::InvalidArgument("cannot export to " + file + ": it is the database itself (or its " +
                                     "journal); name another file");
  char magic[16] = {};
  std::ifstream existing(file, std::ios::binary);
  if (existing.read(magic, sizeof magic) && std::memcmp(magic, "SQLite format 3", 16) == 0)
    return Status::InvalidArgument("cannot export to " + file + ": it is a SQLite database, which an export never "
                                   "overwrites; name another file");
  return Status::OK();
}

struct ExportOptions {
  CLI::App* cmd = nullptr;
  std::string file;
  std::string format;  // empty: from the file name
  std::string type, project;  // Rekall's -t and -p: only those entries

  store::ListFilter Only() const {
    store::ListFilter f;
    if (cmd->count("--type")) f.type = type;
    if (cmd->count("--project")) f.project = project;
    return f;
  }
};

Status Export(Context& ctx, const ExportOptions& o) {
  ExchangeFormat format;
  Status s = ResolveFormat(o.format, o.file, true, &format);
  if (!s.ok()) return s;
  if (o.cmd->count("file") && o.file.empty())
    return Status::InvalidArgument("the output file name is empty (omit it, or give -, for stdout)");
  bool to_stdout = o.file.empty() || o.file == "-";
  if (to_stdout && format == ExchangeFormat::kRekallZip && isatty(STDOUT_FILENO))
    return Status::InvalidArgument("a zip archive is binary; name a file (kb.rekall.zip) or redirect the output");
  std::unique_ptr<Engine> eng;
  if (!(s = ctx.OpenEngine(&eng)).ok()) return s;
  if (!to_stdout && !(s = CheckExportTarget(o.file, eng->path())).ok()) return s;
  size_t n = 0;
  std::string notice;
  if (to_stdout) s = eng->Export(std::cout, format, o.Only(), &n, &notice);
  else s = ExportToFile(eng.get(), o.file, format, o.Only(), &n, &notice);
  if (!s.ok()) return s;
  ctx.Notice(notice);
  if (!to_stdout && !ctx.quiet) std::cerr << "exported " << n << " entries to " << o.file << std::endl;
  return s;
}

}  // namespace

void RegisterIoCommands(CLI::App* app, Context* ctx) {
  const std::vector<std::string> formats = {"jsonl", "json", "zip", "rekall", "md"};
  auto imp = std::make_shared<ImportOptions>();
  CLI::App* c = AddCommand(app, "import",
                           "Import entries (all or nothing) from JSON Lines, Rekall's JSON or a .rekall.zip", ctx,
                           [imp](Context& x) { return Import(x, *imp); });
  c->add_option("file", imp->file, "File, or - for stdin (JSON Lines unless --format)")->required();
  c->add_option("--format,-f", imp->format,
                "jsonl, json or zip (Rekall's name: rekall) (default: from the file name: .jsonl, .json, .zip)")
      ->check(CLI::IsMember(std::vector<std::string>{"jsonl", "json", "zip", "rekall"}));
  c->add_option("--strategy,--on-conflict,-s", imp->strategy,
                "When an id exists: skip, replace, merge (a copy with a new id) or error "
                "(default: skip for Rekall's formats, error for JSON Lines)")
      ->check(CLI::IsMember(std::vector<std::string>{OnConflictName(OnConflict::kError),
                                                     OnConflictName(OnConflict::kSkip),
                                                     OnConflictName(OnConflict::kReplace),
                                                     OnConflictName(OnConflict::kMerge)}));
  c->add_flag("-n,--dry-run", imp->dry_run, "Say what the import would do, change nothing");
  c->add_flag("--no-embed", imp->no_embed, "Do not compute embeddings (run `rekall index rebuild` later)");
  c->add_flag("-y,--yes", imp->yes, "Accepted for Rekall's form: import never asks");
  c->add_flag("--no-backup", imp->no_backup,
              "Accepted for Rekall's form: import makes no backup, it is one transaction (all or nothing)");

  auto exp = std::make_shared<ExportOptions>();
  c = AddCommand(app, "export", "Export the entries (every one, or -t/-p's): JSON Lines, Rekall's JSON, .rekall.zip "
                 "or Markdown", ctx,
                 [exp](Context& x) { return Export(x, *exp); });
  c->add_option("file", exp->file, "Output file (default: stdout)");
  c->add_option("--format,-f", exp->format,
                "jsonl, json, zip (Rekall's name: rekall) or md (default: from the file name: .jsonl, .json, "
                ".rekall.zip, .md; else jsonl)")
      ->check(CLI::IsMember(formats));
  exp->cmd = c;
  c->add_option("--type,-t", exp->type, "Only entries of this type (Rekall's)");
  c->add_option("--project,-p", exp->project, "Only entries of this project (Rekall's)");
}

}  // namespace rekall::cli
