// Test helpers for src/index: a temporary database with the subset of
// Rekall's schema the index reads, random unit vectors, and an exact
// double-precision reference search.
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "index/vector_index.h"
#include "util/temp_dir_for_test.h"

namespace rekall::testing {

inline const char* kSchema =
    "CREATE TABLE IF NOT EXISTS entries(id TEXT PRIMARY KEY, title TEXT, content TEXT,"
    " type TEXT, project TEXT, confidence INT, status TEXT DEFAULT 'active',"
    " superseded_by TEXT, created_at TEXT, updated_at TEXT);"
    "CREATE TABLE IF NOT EXISTS tags(entry_id TEXT, tag TEXT, PRIMARY KEY(entry_id, tag));"
    "CREATE TABLE IF NOT EXISTS embeddings(id TEXT PRIMARY KEY, entry_id TEXT NOT NULL,"
    " embedding_type TEXT, vector BLOB, dimensions INTEGER, model_name TEXT, created_at TEXT,"
    " UNIQUE(entry_id, embedding_type));";

// Entry i of the catch-up and background-load tests: ids e1000, e1001...,
// and metadata varied so that every filter (type, project, status, tags)
// selects a different subset.
inline EntryMeta Meta(int i) {
  static const char* kTypes[] = {"bug", "pattern", "decision"};
  EntryMeta m{kTypes[i % 3], i % 4 == 0 ? "" : "p" + std::to_string(i % 2), i % 5 == 0 ? "obsolete" : "active", {}};
  if (i % 2 == 0) m.tags.push_back("even");
  if (i % 3 == 0) m.tags.push_back("three");
  return m;
}

inline std::string Id(int i) { return "e" + std::to_string(1000 + i); }

// A database file in a fresh temporary directory, removed at destruction.
class TempDb {
 public:
  TempDb() : path_(dir_.file("rekall.db")) { db_ = Open(); }
  ~TempDb() { sqlite3_close_v2(db_); }
  sqlite3* Open() const {
    sqlite3* db = nullptr;
    sqlite3_open(path_.c_str(), &db);
    sqlite3_busy_timeout(db, 5000);
    sqlite3_exec(db, kSchema, nullptr, nullptr, nullptr);
    return db;
  }
  sqlite3* db() const { return db_; }
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::string path_;
  sqlite3* db_ = nullptr;
};

inline void ExecOrDie(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::fprintf(stderr, "SQL failed: %s: %s\n", sql.c_str(), err ? err : "?");
    std::abort();
  }
}

// Writes an entry, its tags and its summary embedding as the Store would.
inline void WriteEntryRows(sqlite3* db, const std::string& id, const std::vector<float>& v,
                           const EntryMeta& m, const std::string& updated_at = "2026-01-01") {
  sqlite3_stmt* s = nullptr;
  sqlite3_prepare_v2(db,
                     "INSERT OR REPLACE INTO entries(id, title, content, type, project, status, updated_at)"
                     " VALUES (?1, ?1, '', ?2, nullif(?3, ''), ?4, ?5)",
                     -1, &s, nullptr);
  sqlite3_bind_text(s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 2, m.type.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 3, m.project.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 4, m.status.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(s, 5, updated_at.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_step(s);
  sqlite3_finalize(s);
  sqlite3_prepare_v2(db, "DELETE FROM tags WHERE entry_id = ?1", -1, &s, nullptr);
  sqlite3_bind_text(s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_step(s);
  sqlite3_finalize(s);
  for (const std::string& t : m.tags) {
    sqlite3_prepare_v2(db, "INSERT OR IGNORE INTO tags(entry_id, tag) VALUES (?1, ?2)", -1, &s, nullptr);
    sqlite3_bind_text(s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, t.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_finalize(s);
  }
  sqlite3_prepare_v2(db,
                     "INSERT OR REPLACE INTO embeddings(id, entry_id, embedding_type, vector, dimensions,"
                     " model_name, created_at) VALUES (?1 || ':summary', ?1, 'summary', ?2, ?3, 'sentence-transformers/all-MiniLM-L6-v2', '')",
                     -1, &s, nullptr);
  sqlite3_bind_text(s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(s, 2, v.data(), int(v.size() * sizeof(float)), SQLITE_TRANSIENT);
  sqlite3_bind_int(s, 3, int(v.size()));
  sqlite3_step(s);
  sqlite3_finalize(s);
}

inline void DeleteEntryRows(sqlite3* db, const std::string& id) {
  for (const char* sql : {"DELETE FROM embeddings WHERE entry_id = ?1", "DELETE FROM tags WHERE entry_id = ?1",
                          "DELETE FROM entries WHERE id = ?1"}) {
    sqlite3_stmt* s = nullptr;
    sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
    sqlite3_bind_text(s, 1, id.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_step(s);
    sqlite3_finalize(s);
  }
}

// What a rekall before 2026-11-30 stored as the state of a complete
// sqlite-vec table (rekall_index_state 'embeddings_vec'), and compares with
// the sources at each look: a fingerprint of them (summary embeddings,
// highest embeddings rowid, entries, sums of rowids, latest updated_at,
// tags). For tests that play such a binary on the same file.
inline std::string OlderRekallFingerprint(sqlite3* db) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db,
                     "SELECT (SELECT count(*) FROM embeddings WHERE embedding_type = 'summary'),"
                     " (SELECT coalesce(max(rowid), 0) FROM embeddings), (SELECT count(*) FROM entries),"
                     " (SELECT total(rowid) FROM entries), (SELECT total(rowid) FROM embeddings),"
                     " (SELECT coalesce(max(updated_at), '') FROM entries), (SELECT count(*) FROM tags),"
                     " (SELECT coalesce(max(rowid), 0) FROM tags)",
                     -1, &st, nullptr);
  std::string fp;
  if (sqlite3_step(st) == SQLITE_ROW) {
    for (int i = 0; i < 8; ++i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      fp += std::string(t ? reinterpret_cast<const char*>(t) : "") + "|";
    }
  }
  sqlite3_finalize(st);
  return fp;
}

inline std::vector<float> RandomUnit(std::mt19937_64& rng, int dim) {
  std::normal_distribution<float> nd;
  std::vector<float> v(dim);
  double ss = 0;
  for (float& x : v) {
    x = nd(rng);
    ss += double(x) * x;
  }
  for (float& x : v) x = float(x / std::sqrt(ss));
  return v;
}

// Exact reference: cosine in double precision over every matching entry.
struct RefEntry {
  std::vector<float> vec;
  EntryMeta meta;
};

inline bool RefMatches(const EntryMeta& m, const Filter& f) {
  if (f.type && m.type != *f.type) return false;
  if (f.project && m.project != *f.project) return false;
  if (f.status && m.status != *f.status) return false;
  for (const std::string& t : f.tags) {
    if (std::find(m.tags.begin(), m.tags.end(), t) == m.tags.end()) return false;
  }
  return true;
}

inline std::vector<std::pair<std::string, double>> ReferenceSearch(const std::map<std::string, RefEntry>& base,
                                                                    const std::vector<float>& q, int k,
                                                                    const Filter& f = {}) {
  std::vector<std::pair<std::string, double>> all;
  double qn = 0;
  for (float x : q) qn += double(x) * x;
  for (const auto& [id, e] : base) {
    if (!RefMatches(e.meta, f)) continue;
    double dot = 0, en = 0;
    for (size_t j = 0; j < q.size(); ++j) {
      dot += double(q[j]) * e.vec[j];
      en += double(e.vec[j]) * e.vec[j];
    }
    all.emplace_back(id, dot / std::sqrt(qn * en));
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a.second > b.second || (a.second == b.second && a.first < b.first);
  });
  if (k < 0) k = 0;
  if (all.size() > size_t(k)) all.resize(k);
  return all;
}

// The top-k of `idx` for query q equals the exact reference over `base`:
// same ids in the same order, scores within float error.
inline void ExpectMatchesReference(VectorIndex* idx, const std::map<std::string, RefEntry>& base,
                                   const std::vector<float>& q, int k, const Filter& f = {}) {
  std::vector<Hit> hits;
  Status s = idx->Search(q.data(), int(q.size()), k, f, &hits);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto want = ReferenceSearch(base, q, k, f);
  ASSERT_EQ(hits.size(), want.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ(hits[i].entry_id, want[i].first) << "rank " << i;
    EXPECT_NEAR(hits[i].score, want[i].second, 1e-5) << "rank " << i;
  }
}


// A server's index whose background load holds right after it has read its
// snapshot, until Resume(): the tests of what a loading server answers and
// of how it hands over. The hook's state is shared with the loading thread,
// so it outlives this object if the index does.
class PausedLoad {
 public:
  PausedLoad() = default;
  PausedLoad(const PausedLoad&) = delete;
  PausedLoad& operator=(const PausedLoad&) = delete;
  // A load still held (a test that failed first) is let go.
  ~PausedLoad() { Release(); }

  // Opens an index on `db` with `o` (load_in_background set), returning once
  // its load holds; null when opening failed.
  std::unique_ptr<VectorIndex> Open(sqlite3* db, IndexOptions o) {
    auto st = state_;
    o.load_in_background = true;
    o.background_load_hook = [st](bool loaded) {
      if (loaded) {
        if (!st->handed.exchange(true)) st->handed_over.set_value();
        return;
      }
      if (!st->held.exchange(true)) st->paused.set_value();
      st->go.wait();
    };
    std::unique_ptr<VectorIndex> idx;
    std::string notice;
    if (!OpenVectorIndex(db, o, &idx, &notice).ok()) return nullptr;
    state_->paused.get_future().wait();
    return idx;
  }

  // Lets the load go on and waits until the loaded index has taken over.
  void Resume() {
    Release();
    state_->handed_over.get_future().wait();
  }

  // Lets the load go on.
  void Release() {
    if (!state_->released.exchange(true)) state_->resume.set_value();
  }

 private:
  struct State {
    std::promise<void> paused, resume, handed_over;
    std::shared_future<void> go = resume.get_future().share();
    std::atomic<bool> held{false}, handed{false}, released{false};
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace rekall::testing
