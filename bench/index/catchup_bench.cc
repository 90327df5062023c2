// What another process's commit costs a long-running index (issue 13 #6):
// on a store built by bench/storage/make_store.py (Rekall's schema, its
// keyword triggers), a second connection commits one kind of change, and
// the index's Refresh catches up; the full reload of the brute index is
// timed in the same run, in turn, for the ratio. Prints Markdown rows.
//
//   catchup_bench STORE.db [--runs 5] [--ext path/to/vec0.so] [--index-updated-at 1] [--brute 0]
//
// It writes into STORE.db: run it on a copy. --index-updated-at 1 first
// creates an index on entries(updated_at) (not in Rekall's schema): the
// catch-up's only scan, max(updated_at), becomes a b-tree lookup. With
// --ext, the sqlite-vec backend's catch-up of an added, an edited and a
// deleted entry follows; --brute 0 skips the brute rows (and their reloads).
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "index/index_source.h"
#include "index/vector_index.h"

namespace {

using Clock = std::chrono::steady_clock;
using rekall::IndexOptions;
using rekall::Status;

void Die(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "%s: %s\n", sql.c_str(), err ? err : "?");
    std::exit(1);
  }
}

// A random unit vector as the hex literal of its float32 bytes.
std::string VectorLiteral(std::mt19937_64& rng) {
  std::normal_distribution<float> nd;
  std::vector<float> v(384);
  double ss = 0;
  for (float& x : v) {
    x = nd(rng);
    ss += double(x) * x;
  }
  for (float& x : v) x = float(x / std::sqrt(ss));
  std::string hex = "X'";
  const auto* b = reinterpret_cast<const unsigned char*>(v.data());
  for (size_t i = 0; i < v.size() * 4; ++i) {
    char h[3];
    std::snprintf(h, sizeof h, "%02X", b[i]);
    hex += h;
  }
  return hex + "'";
}

// One entry with three tags and its summary embedding, as Rekall writes them.
std::string AddSql(const std::string& id, const std::string& at, std::mt19937_64& rng) {
  return "INSERT INTO tags VALUES ('" + id + "', 'nginx'), ('" + id + "', 'proxy'), ('" + id + "', 'bench');" +
         "INSERT INTO entries(id, title, content, type, project, created_at, updated_at) VALUES ('" + id +
         "', 'added " + id + "', 'some text', 'bug', 'bench', '" + at + "', '" + at + "');" +
         "INSERT INTO embeddings VALUES ('" + id + "-s', '" + id + "', 'summary', " + VectorLiteral(rng) +
         ", 384, 'sentence-transformers/all-MiniLM-L6-v2', '2027-01-01');";
}

std::string SomeId(sqlite3* db, int nth) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT id FROM entries ORDER BY rowid LIMIT 1 OFFSET ?1", -1, &st, nullptr);
  sqlite3_bind_int(st, 1, nth);
  std::string id;
  if (sqlite3_step(st) == SQLITE_ROW) id = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  sqlite3_finalize(st);
  return id;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median time of idx->Refresh after `change` committed on `other`.
double RefreshMs(rekall::VectorIndex* idx, sqlite3* other, const std::function<std::string(int)>& change, int runs) {
  std::vector<double> ms;
  for (int r = 0; r < runs; ++r) {
    Exec(other, "BEGIN;" + change(r) + "COMMIT;");
    auto t0 = Clock::now();
    bool changed = false;
    Die(idx->Refresh(&changed), "refresh");
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!changed) std::fprintf(stderr, "warning: Refresh saw no change\n");
  }
  return Median(ms);
}

// Reading the source rows of a load, without indexing them: the SQL join
// the load used before (a b-tree search into entries and tags per
// embedding) against ForEachSourceRow's three scans and hash join, in turn.
void LoadReadRows(sqlite3* db, int runs) {
  const std::string join =
      "SELECT em.entry_id, em.vector, e.type, e.project, e.status,"
      " (SELECT group_concat(t.tag, char(31)) FROM tags t WHERE t.entry_id = em.entry_id), em.rowid, e.rowid"
      " FROM embeddings em JOIN entries e ON e.id = em.entry_id WHERE " +
      rekall::index_internal::SourceWhere();
  std::vector<double> sql_ms, ours_ms;
  size_t n_sql = 0, n_ours = 0;
  for (int r = 0; r < runs; ++r) {
    auto t0 = Clock::now();
    sqlite3_stmt* st = nullptr;
    sqlite3_prepare_v2(db, join.c_str(), -1, &st, nullptr);
    for (n_sql = 0; sqlite3_step(st) == SQLITE_ROW; ++n_sql) {
      for (int c = 0; c < 8; ++c) sqlite3_column_blob(st, c);
    }
    sqlite3_finalize(st);
    sql_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    t0 = Clock::now();
    n_ours = 0;
    Die(rekall::index_internal::ForEachSourceRow(db, 384, [&](const rekall::index_internal::SourceRow&) {
          ++n_ours;
          return Status::OK();
        }, nullptr), "read rows");
    ours_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::printf("| reading the %zu / %zu source rows of a load | SQL join (before) %.0f ms | three scans + hash join %.0f ms |\n\n",
              n_sql, n_ours, Median(sql_ms), Median(ours_ms));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: catchup_bench STORE.db [--runs N] [--ext vec0.so] [--index-updated-at 1] [--brute 0]\n");
    return 2;
  }
  int runs = 5;
  bool index_updated_at = false, brute = true;
  std::string ext;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--runs") runs = std::max(1, std::atoi(argv[i + 1]));
    if (std::string(argv[i]) == "--ext") ext = argv[i + 1];
    if (std::string(argv[i]) == "--index-updated-at") index_updated_at = std::atoi(argv[i + 1]) != 0;
    if (std::string(argv[i]) == "--brute") brute = std::atoi(argv[i + 1]) != 0;
  }
  sqlite3 *db = nullptr, *other = nullptr;
  sqlite3_open(argv[1], &db);
  sqlite3_open(argv[1], &other);
  sqlite3_busy_timeout(other, 5000);
  if (index_updated_at) Exec(other, "CREATE INDEX IF NOT EXISTS bench_entries_updated_at ON entries(updated_at)");
  std::mt19937_64 rng(11);
  int serial = 0;
  auto fresh_id = [&] { return "01JZZBENCH" + std::to_string(1000000 + serial++); };
  // Each write stamps a later updated_at, as writers do.
  auto stamp = [&] { return "2027-01-01T00:00:00." + std::to_string(100000 + serial++); };
  std::vector<std::pair<std::string, std::function<std::string(int)>>> cases = {
      {"one entry added", [&](int) { return AddSql(fresh_id(), stamp(), rng); }},
      {"metadata edited in place (type, updated_at)",
       [&](int r) { return "UPDATE entries SET type = 'pattern', updated_at = '" + stamp() + "' WHERE id = '" + SomeId(db, 10 + r) + "';"; }},
      {"text edited, vector updated in place (our store's upsert)",
       [&](int r) {
         const std::string id = SomeId(db, 20 + r);
         return "UPDATE entries SET content = 'edited', updated_at = '" + stamp() + "' WHERE id = '" + id + "';" +
                "UPDATE embeddings SET vector = " + VectorLiteral(rng) + " WHERE entry_id = '" + id + "';";
       }},
      {"tags replaced", [&](int r) {
         const std::string id = SomeId(db, 30 + r);
         return "DELETE FROM tags WHERE entry_id = '" + id + "'; INSERT INTO tags VALUES ('" + id + "', 'renamed');" +
                "UPDATE entries SET updated_at = '" + stamp() + "' WHERE id = '" + id + "';";
       }},
      {"one entry deleted", [&](int r) {
         const std::string id = SomeId(db, 40 + r);
         return "DELETE FROM embeddings WHERE entry_id = '" + id + "'; DELETE FROM tags WHERE entry_id = '" + id +
                "'; DELETE FROM entries WHERE id = '" + id + "';";
       }},
      {"100 entries added", [&](int) {
         std::string sql;
         for (int i = 0; i < 100; ++i) sql += AddSql(fresh_id(), stamp(), rng);
         return sql;
       }},
  };
  if (brute) LoadReadRows(db, runs);
  std::printf("| backend | change by another connection | catch-up (ms) | full reload (ms) |\n|---|---|---|---|\n");
  IndexOptions o;
  o.backend = rekall::IndexBackend::kBrute;
  std::unique_ptr<rekall::VectorIndex> idx;
  std::string notice;
  if (brute) Die(rekall::OpenVectorIndex(db, o, &idx, &notice), "open brute");
  for (auto& [name, change] : cases) {
    if (!brute) break;
    const double catchup = RefreshMs(idx.get(), other, change, runs);
    std::vector<double> reload;
    for (int r = 0; r < std::max(1, runs / 2); ++r) {
      auto t0 = Clock::now();
      Die(idx->Rebuild(nullptr, nullptr), "rebuild");
      reload.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    std::printf("| brute | %s | %.2f | %.0f |\n", name.c_str(), catchup, Median(reload));
    std::fflush(stdout);
  }
  if (!ext.empty()) {
    idx.reset();
    o.backend = rekall::IndexBackend::kSqliteVec;
    o.extension_path = ext;
    Die(rekall::OpenVectorIndex(db, o, &idx, &notice), "open sqlite-vec");
    // Added, metadata edited, text and vector edited, deleted.
    for (size_t c : {0, 1, 2, 4}) {
      std::printf("| sqlite-vec | %s | %.2f | - |\n", cases[c].first.c_str(),
                  RefreshMs(idx.get(), other, cases[c].second, runs));
      std::fflush(stdout);
    }
  }
  idx.reset();
  sqlite3_close(other);
  sqlite3_close(db);
  return 0;
}
