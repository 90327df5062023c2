// rekall vacuum
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"

namespace rekall::cli {

namespace {

using nlohmann::json;

void PrintVacuum(const Context& ctx, const VacuumReport& r) {
  uint64_t reclaimed = r.bytes_before > r.bytes_after ? r.bytes_before - r.bytes_after : 0;
  if (ctx.json) {
    json j = {{"database", r.database},         {"entries", r.entries},
              {"bytes_before", r.bytes_before}, {"bytes_after", r.bytes_after},
              {"bytes_reclaimed", reclaimed},   {"vector_index_rebuilt", r.vector_index_rebuilt}};
    if (!r.notice.empty()) j["notice"] = r.notice;
    ctx.PrintJson(j);
    return;
  }
  std::cout << "database:  " << r.database << "\nentries:   " << r.entries << " (all kept)\nbefore:    "
            << r.bytes_before << " bytes\nafter:     " << r.bytes_after << " bytes\nreclaimed: " << reclaimed
            << " bytes\n";
  if (r.vector_index_rebuilt) std::cout << "vector index: rebuilt from the embeddings\n";
  std::cout.flush();
}

Status Vacuum(Context& ctx) {
  std::unique_ptr<Engine> eng;
  Status s = ctx.OpenEngine(&eng);
  VacuumReport r;
  if (s.ok()) s = eng->Vacuum(&r);
  if (!s.ok()) return s;
  ctx.Notice(r.notice);
  PrintVacuum(ctx, r);
  return Status::OK();
}

}  // namespace

void RegisterVacuumCommand(CLI::App* app, Context* ctx) {
  AddCommand(app, "vacuum",
             "Give the space of deleted entries back to the file system (rebuilds the vec0 table, then VACUUM)", ctx,
             [](Context& x) { return Vacuum(x); });
}

}  // namespace rekall::cli
