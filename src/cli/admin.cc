// rekall migrate | doctor
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

void PrintMigration(const Context& ctx, const MigrationReport& r, bool dry_run) {
  const store::MigrationPlan& plan = r.plan;
  json j = {{"database", r.database}, {"rekall_schema_version", plan.user_version},
            {"needed", plan.needed()}, {"dry_run", dry_run}, {"entries", r.entries},
            {"entries_without_embedding", r.entries_without_embedding}};
  json steps = json::array();
  for (const auto& step : plan.steps) steps.push_back(step.description);
  j["steps"] = steps;
  if (plan.needed()) j["backup"] = r.backup_path;
  if (r.applied) j["migrated"] = r.migrated;
  if (ctx.json) {
    ctx.PrintJson(j);
    return;
  }
  std::cout << "database: " << r.database << " (Rekall schema " << plan.user_version << ", left as is)\n";
  if (!plan.needed()) {
    std::cout << "up to date: nothing to migrate\n";
  } else {
    std::cout << (dry_run ? "would apply, in one transaction:\n" : "applied, in one transaction:\n");
    for (const auto& step : plan.steps) std::cout << "  - " << step.description << "\n";
    std::cout << (dry_run ? "backup would be written to: " : "backup: ") << r.backup_path
              << (dry_run ? "" : " (" + FileSizeText(r.backup_path) + ")") << "\n";
  }
  if (r.entries_without_embedding > 0)
    std::cout << r.entries_without_embedding << " of " << r.entries
              << " entries have no embedding of this model: `rekall index rebuild` adds them\n";
  std::cout.flush();
}

Status Migrate(Context& ctx, bool dry_run) {
  EngineOptions o;
  Status s = ctx.MakeEngineOptions(Lifetime::kOneShot, &o);
  MigrationReport report;
  if (s.ok()) s = dry_run ? Engine::PlanMigration(o, &report) : Engine::Migrate(o, &report);
  if (!s.ok()) return s;
  PrintMigration(ctx, report, dry_run);
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
    ctx.PrintJson(j);
    return;
  }
  for (const auto& f : findings)
    std::cout << (f.fixed ? "fixed" : SeverityName(f.severity)) << "\t" << f.check << ": " << f.message << "\n";
  if (!backup.empty()) std::cout << "backup before repairs: " << backup << " (" << FileSizeText(backup) << ")\n";
  std::cout.flush();
}

Status Doctor(Context& ctx, const DoctorOptions& opts) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  std::vector<DoctorFinding> findings;
  std::string backup;
  if (s.ok()) s = eng->Doctor(opts, &findings, &backup);
  if (!s.ok()) return s;
  bool open_problems = false;
  for (const auto& f : findings)
    open_problems |= (f.severity == Severity::kWarning || f.severity == Severity::kError) && !f.fixed;
  PrintFindings(ctx, findings, backup, !open_problems);
  // Exit 1 while an error or warning is left unfixed (listed above), so a
  // script sees it; 0 once healthy.
  ctx.failed = open_problems;
  return Status::OK();
}

}  // namespace

void RegisterAdminCommands(CLI::App* app, Context* ctx) {
  auto dry_run = std::make_shared<bool>(false);
  CLI::App* c = AddCommand(app, "migrate", "Bring an existing Rekall database up to what this engine needs", ctx,
                           [dry_run](Context& x) { return Migrate(x, *dry_run); });
  c->add_flag("--dry-run", *dry_run, "Say what would change and where the backup would go; change nothing");

  auto doctor = std::make_shared<DoctorOptions>();
  c = AddCommand(app, "doctor", "Check the database: integrity, orphans, index drift, model mismatches", ctx,
                 [doctor](Context& x) { return Doctor(x, *doctor); });
  c->add_flag("--fix", doctor->fix, "Repair what is safe (after a backup) and say what was done");
  c->add_flag("--quick", doctor->quick,
              "Only the integrity check and the keyword and vector index drift (no per-vector checks)");
}

}  // namespace rekall::cli
