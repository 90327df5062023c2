// rekall migrate | doctor
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "store/migrate.h"
#include "store/store.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

Status Migrate(Context& ctx, bool dry_run) {
  config::Config cfg;
  Status s = ctx.LoadConfig(&cfg);
  if (!s.ok()) return s;
  config::DbLocation loc = config::ResolveDbPath(ctx.db, cfg);
  store::OpenOptions oo;
  oo.create_if_missing = false;
  oo.auto_migrate = false;
  oo.read_only = true;
  std::unique_ptr<store::Store> st;
  if (!(s = store::Store::Open(loc.path, oo, &st)).ok()) return s;
  store::MigrationPlan plan;
  if (!(s = store::PlanMigration(st->db(), loc.path, &plan)).ok()) return s;
  std::vector<std::string> missing;
  if (!(s = st->EntriesWithoutEmbedding("summary", &missing)).ok()) return s;
  size_t entries = 0;
  if (!(s = st->Count(&entries)).ok()) return s;
  json j = {{"database", loc.path}, {"rekall_schema_version", plan.user_version},
            {"needed", plan.needed()}, {"dry_run", dry_run}, {"entries", entries},
            {"entries_without_embedding", missing.size()}};
  json steps = json::array();
  for (const auto& step : plan.steps) steps.push_back(step.description);
  j["steps"] = steps;
  if (plan.needed()) j["backup"] = plan.backup_path;
  if (!dry_run && plan.needed()) {
    st.reset();
    store::OpenOptions rw;
    rw.create_if_missing = false;
    if (!(s = store::Store::Open(loc.path, rw, &st)).ok()) return s;
    j["backup"] = st->schema().backup_path;
    j["migrated"] = st->schema().migrated;
  }
  if (ctx.json) {
    std::cout << j.dump() << std::endl;
    return Status::OK();
  }
  std::cout << "database: " << loc.path << " (Rekall schema " << plan.user_version << ", left as is)\n";
  if (!plan.needed()) {
    std::cout << "up to date: nothing to migrate\n";
  } else {
    std::cout << (dry_run ? "would apply, in one transaction:\n" : "applied, in one transaction:\n");
    for (const auto& step : plan.steps) std::cout << "  - " << step.description << "\n";
    std::cout << (dry_run ? "backup would be written to: " : "backup: ") << j["backup"].get<std::string>() << "\n";
  }
  if (!missing.empty())
    std::cout << missing.size() << " of " << entries
              << " entries have no embedding of this model: `rekall index rebuild` adds them\n";
  std::cout.flush();
  return Status::OK();
}

void PrintFindings(const Context& ctx, const std::vector<DoctorFinding>& findings, const std::string& backup,
                   bool healthy) {
  if (ctx.json) {
    json arr = json::array();
    for (const auto& f : findings)
      arr.push_back({{"check", f.check}, {"severity", SeverityName(f.severity)}, {"message", f.message}, {"count", f.count},
                     {"fixed", f.fixed}});
    json j = {{"findings", arr}, {"healthy", healthy}};
    if (!backup.empty()) j["backup"] = backup;
    std::cout << j.dump() << std::endl;
    return;
  }
  for (const auto& f : findings)
    std::cout << (f.fixed ? "fixed" : SeverityName(f.severity)) << "\t" << f.check << ": " << f.message << "\n";
  if (!backup.empty()) std::cout << "backup before repairs: " << backup << "\n";
  std::cout.flush();
}

Status Doctor(Context& ctx, bool fix) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  std::vector<DoctorFinding> findings;
  std::string backup;
  if (s.ok()) s = eng->Doctor(fix, &findings, &backup);
  if (!s.ok()) return s;
  bool errors = false, open_problems = false;
  for (const auto& f : findings) {
    errors |= f.severity == Severity::kError;
    open_problems |= (f.severity == Severity::kWarning || f.severity == Severity::kError) && !f.fixed;
  }
  PrintFindings(ctx, findings, backup, !open_problems);
  ctx.failed = errors;  // listed above
  return Status::OK();
}

}  // namespace

void RegisterAdminCommands(CLI::App* app, Context* ctx) {
  auto dry_run = std::make_shared<bool>(false);
  CLI::App* c = AddCommand(app, "migrate", "Bring an existing Rekall database up to what this engine needs", ctx,
                           [dry_run](Context& x) { return Migrate(x, *dry_run); });
  c->add_flag("--dry-run", *dry_run, "Say what would change and where the backup would go; change nothing");

  auto fix = std::make_shared<bool>(false);
  c = AddCommand(app, "doctor", "Check the database: integrity, orphans, index drift, model mismatches", ctx,
                 [fix](Context& x) { return Doctor(x, *fix); });
  c->add_flag("--fix", *fix, "Repair what is safe (after a backup) and say what was done");
}

}  // namespace rekall::cli
