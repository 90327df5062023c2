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
  std::string on_conflict = OnConflictName(OnConflict::kError);
  bool no_embed = false;
};

Status Import(Context& ctx, const ImportOptions& o) {
  std::ifstream f;
  std::istream* in = &std::cin;
  if (o.file != "-") {
    std::error_code ec;
    if (std::filesystem::is_directory(o.file, ec)) return Status::InvalidArgument(o.file + " is a directory, not a file");
    f.open(o.file, std::ios::binary);
    if (!f) return Status::InvalidArgument("cannot read " + o.file + ": " + std::strerror(errno));
    in = &f;
  }
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  size_t n = 0, skipped = 0;
  std::string notice;
  OnConflict oc = OnConflict::kError;
  if (s.ok()) s = ParseOnConflict(o.on_conflict, &oc);
  if (s.ok()) {
    // On a terminal only: an import's output in a log stays as it was.
    Progress bar("embedded", !ctx.quiet && !ctx.json && isatty(STDERR_FILENO));
    s = eng->Import(*in, oc, !o.no_embed, &n, &skipped, &notice,
                    [&](size_t done, size_t total) { bar.Update(done, total); });
  }
  if (!s.ok()) return s;
  ctx.Notice(notice);
  if (ctx.json) ctx.PrintJson(json{{"imported", n}, {"skipped", skipped}});
  else std::cout << "imported " << n << " entries" << (skipped ? ", skipped " + std::to_string(skipped) : "") << std::endl;
  return Status::OK();
}

// Writes beside, then renames: an interrupted export never leaves a
// half-written file under the name asked for. An export holds the same
// knowledge as the database, so it is private like it: the temporary file is
// created new (never one that was there, nor a link) with mode 0600 whatever
// the umask, and the rename keeps that mode.
Status ExportToFile(Engine* eng, const std::string& file, size_t* n, std::string* notice) {
  std::string tmp = file + ".tmp-" + std::to_string(::getpid());
  Status s = Env::Default()->CreateNewFile(tmp, 0600);
  if (!s.ok()) return Status::IOError("cannot write export: " + s.message());
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) s = Status::IOError("cannot write " + tmp);
    else s = eng->Export(f, n, notice);
  }
  if (s.ok()) s = Env::Default()->SyncFile(tmp);
  if (s.ok() && std::rename(tmp.c_str(), file.c_str()) != 0) s = Status::IOError("cannot write " + file);
  if (!s.ok()) std::remove(tmp.c_str());
  return s;
}

Status Export(Context& ctx, const std::string& file) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  if (!s.ok()) return s;
  size_t n = 0;
  std::string notice;
  if (file.empty() || file == "-") s = eng->Export(std::cout, &n, &notice);
  else s = ExportToFile(eng.get(), file, &n, &notice);
  if (!s.ok()) return s;
  ctx.Notice(notice);
  if (!file.empty() && file != "-" && !ctx.quiet) std::cerr << "exported " << n << " entries to " << file << std::endl;
  return s;
}

}  // namespace

void RegisterIoCommands(CLI::App* app, Context* ctx) {
  auto imp = std::make_shared<ImportOptions>();
  CLI::App* c = AddCommand(app, "import", "Import entries from JSON Lines (all or nothing)", ctx,
                           [imp](Context& x) { return Import(x, *imp); });
  c->add_option("file", imp->file, "JSON Lines file, or - for stdin")->required();
  c->add_option("--on-conflict", imp->on_conflict, "When an id exists: error, skip or replace")
      ->check(CLI::IsMember(std::vector<std::string>{OnConflictName(OnConflict::kError),
                                                     OnConflictName(OnConflict::kSkip),
                                                     OnConflictName(OnConflict::kReplace)}));
  c->add_flag("--no-embed", imp->no_embed, "Do not compute embeddings (run `rekall index rebuild` later)");

  auto file = std::make_shared<std::string>();
  c = AddCommand(app, "export", "Export every entry as JSON Lines", ctx,
                 [file](Context& x) { return Export(x, *file); });
  c->add_option("file", *file, "Output file (default: stdout)");
}

}  // namespace rekall::cli
