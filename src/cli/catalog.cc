// rekall browse | deprecate | info: Rekall's commands to look over the
// knowledge base, retire an entry, and say what the database holds.
#include <filesystem>
#include <iostream>
#include <limits>
#include <optional>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "store/entry.h"
#include "util/version.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

struct BrowseOptions {
  FilterOptions filter;
  int limit = 20;  // Rekall's
};

struct DeprecateOptions {
  CLI::App* cmd = nullptr;
  std::string id, replaced_by;
};

// What `info` reports.
struct DatabaseInfo {
  std::string path;
  int schema_version = 0;  // Rekall's user_version
  size_t entries = 0, obsolete = 0, links = 0;
  uintmax_t size_bytes = 0;
};

Status Browse(Context& ctx, const BrowseOptions& o) {
  store::ListFilter f = o.filter.ToFilter();  // the engine checks the filter
  f.limit = o.limit;
  return ListEntries(ctx, f);
}

// As rekall_deprecate: both ids may be unique prefixes; a replacement
// nobody stored is refused and nothing changes.
Status Deprecate(Context& ctx, const DeprecateOptions& o) {
  std::unique_ptr<Engine> eng;
  std::string id;
  std::optional<std::string> replaced_by;
  Status s = ctx.OpenEngine(&eng);
  if (s.ok()) s = eng->ResolveId(o.id, &id);
  if (s.ok() && o.cmd->count("--replaced-by")) {
    std::string r;
    s = eng->ResolveId(o.replaced_by, &r);
    if (s.IsNotFound()) s = Status::NotFound("no entry with id " + o.replaced_by + " (--replaced-by); nothing changed");
    replaced_by = r;
  }
  store::Entry e;
  std::string notice;
  if (s.ok()) s = eng->Deprecate(id, replaced_by, &e, &notice);
  if (!s.ok()) return s;
  ctx.Notice(notice);
  if (ctx.json) {
    ctx.PrintJson(json{{"id", e.id}, {"title", e.title}, {"status", e.status},
                       {"superseded_by", e.superseded_by ? json(*e.superseded_by) : json(nullptr)}});
    return Status::OK();
  }
  std::cout << "deprecated " << e.id << (e.superseded_by ? ", replaced by " + *e.superseded_by : "") << std::endl;
  return Status::OK();
}

// The counts of `info`, from the database opened read-only: `info` never
// creates, migrates or changes a file.
Status ReadInfo(const Context& ctx, DatabaseInfo* info) {
  EngineOptions o;
  std::string source;
  Status s = ctx.MakeEngineOptions(Lifetime::kOneShot, &o, &source);
  if (!s.ok()) return s;
  info->path = o.db_path;
  std::error_code ec;
  if (!std::filesystem::is_regular_file(o.db_path, ec))
    return Status::IOError("no database at " + o.db_path + " (the path comes from " + source +
                           "); nothing was created: `rekall add` creates one");
  info->size_bytes = std::filesystem::file_size(o.db_path, ec);
  o.read_only = true;
  std::unique_ptr<Engine> eng;
  if (!(s = Engine::Open(std::move(o), &eng)).ok()) return s;
  info->schema_version = eng->schema().user_version;
  store::ListFilter all, obsolete;
  all.include_obsolete = true;
  all.limit = obsolete.limit = 0;
  obsolete.status = store::kObsoleteStatus;
  std::vector<store::Entry> entries;
  if ((s = eng->List(all, &entries)).ok()) info->entries = entries.size();
  if (s.ok() && (s = eng->List(obsolete, &entries)).ok()) info->obsolete = entries.size();
  if (s.ok()) s = eng->CountLinks(&info->links);
  return s;
}

Status Info(Context& ctx) {
  DatabaseInfo i;
  Status s = ReadInfo(ctx, &i);
  if (!s.ok()) return s;
  bool current = i.schema_version >= kLatestRekallSchemaVersion;
  size_t active = i.entries - i.obsolete;
  if (ctx.json) {
    ctx.PrintJson(json{{"version", kVersion},       {"database", i.path},
                       {"schema_version", i.schema_version}, {"latest_schema_version", kLatestRekallSchemaVersion},
                       {"schema_current", current}, {"entries", i.entries},
                       {"active", active},          {"obsolete", i.obsolete},
                       {"links", i.links},          {"size_bytes", i.size_bytes}});
    return Status::OK();
  }
  std::cout << "version:  rekall " << kVersion << "\n"
            << "database: " << i.path << "\n"
            << "schema:   v" << i.schema_version << "/" << kLatestRekallSchemaVersion
            << (current ? " (current)" : " (outdated: Rekall's `rekall init` upgrades it; we read it as it is)")
            << "\n"
            << "entries:  " << i.entries << " (" << active << " active, " << i.obsolete << " obsolete)\n"
            << "links:    " << i.links << "\n"
            << "size:     " << i.size_bytes << " bytes" << std::endl;
  return Status::OK();
}

}  // namespace

void RegisterCatalogCommands(CLI::App* app, Context* ctx) {
  auto browse = std::make_shared<BrowseOptions>();
  CLI::App* c = AddCommand(app, "browse", "List active entries, newest first (Rekall's name; `list` with its limit)",
                           ctx, [browse](Context& x) { return Browse(x, *browse); });
  browse->filter.Register(c);
  c->add_option("--limit,-l,-n", browse->limit, "At most this many (0: all)")
      ->check(CLI::Range(0, std::numeric_limits<int>::max()))
      ->capture_default_str();

  auto dep = std::make_shared<DeprecateOptions>();
  c = AddCommand(app, "deprecate", "Mark an entry obsolete (kept, hidden from search and lists), maybe replaced",
                 ctx, [dep](Context& x) { return Deprecate(x, *dep); });
  dep->cmd = c;
  c->add_option("id", dep->id, "Entry id, or a unique prefix of one")->required();
  c->add_option("--replaced-by,-r", dep->replaced_by, "Id of the entry that replaces it (without: none)");

  c = AddCommand(app, "info", "What the database is and holds: path, schema, entries, links, size", ctx,
                 [](Context& x) { return Info(x); });
}

}  // namespace rekall::cli
