// KeywordIndex: Rekall's keyword table (entries_fts, FTS5) held in memory by
// a long-running server, ranking exactly as FTS5's bm25() ranks it.
//
// Why. FTS5's bm25() scores every row holding any query word and reads each
// row's size through an SQL lookup (~1 us a row); an agent's query matches a
// third of the entries, so a keyword search cost p95 23 ms at 10K entries
// and 101-108 ms at 100K (bench/soak/RESULTS.md, quiet machine). Here a
// query costs the postings of its words: a few multiply-adds per posting,
// no SQL per row.
//
// Exactness. The words are FTS5's own: the tokenizer is SQLite's, got
// through the fts5_api of a connection (Rekall's 'porter unicode61'), and an
// index is only built for a table declared exactly as Rekall declares it;
// any other table is left to FTS5 (NotSupported). Every row's token count
// per column must equal what FTS5 stored in entries_fts_docsize, or the
// build fails. Row count and token totals (bm25's N and avgdl) are read
// from FTS5's own averages record, not recounted, so a table whose records
// drifted still ranks as FTS5 ranks it. Scores are FTS5's formula
// (fts5_aux.c, k1 = 1.2, b = 0.75, IDF floored at 1e-6) evaluated with the
// same double operations in the same order (this file's .cc is compiled
// without floating-point contraction), so they are bit-identical: the
// column weights are whole numbers, so a row's weighted frequency is an
// exact integer whatever order FTS5 sums its hits in.
//
// Freshness. LiveKeywordIndex says when the index may answer: only when it
// holds the state of the file the caller's read snapshot sees. Writes on
// the store's own connection are seen through SQLite's update hook (the
// FTS5 docsize rows they touch) and read again; a write by another
// connection (PRAGMA data_version moved and the FTS5 structure record
// changed) makes it stale, and the index is built again on a thread of its
// own with a connection of its own, while FTS5 answers. One-shot commands
// never build one: building costs more than a query.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "util/status.h"

namespace rekall::store {

// bm25's weight of each column of entries_fts (id, title, content, tags):
// title and tags weigh more than the body, being what a user chose to name
// the knowledge by. Whole numbers (see Exactness above).
inline constexpr int kFtsColumns = 4;
inline constexpr int kColumnWeights[kFtsColumns] = {0, 3, 1, 2};

// SQLite's tokenizer of Rekall's keyword table ('porter unicode61'), one
// instance; used by one thread at a time.
class FtsTokenizer {
 public:
  // From the fts5_api of `db` (any connection of this process).
  static Status Open(sqlite3* db, std::unique_ptr<FtsTokenizer>* out);
  ~FtsTokenizer();
  FtsTokenizer(const FtsTokenizer&) = delete;
  FtsTokenizer& operator=(const FtsTokenizer&) = delete;

  // Calls fn(ctx, token) for each token of `text`, as FTS5 indexes a
  // document's column (query: as it reads a query string). Tokens longer
  // than FTS5's limit are cut as FTS5 cuts them.
  using TokenFn = void (*)(void* ctx, std::string_view token);
  Status Tokenize(std::string_view text, bool query, TokenFn fn, void* ctx) const;

 private:
  FtsTokenizer() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What identifies the content of entries_fts: FTS5 rewrites its structure
// record (a write counter and the segments) with every commit that changes
// the table, and its averages record with every row added or removed.
struct FtsVersion {
  int64_t schema_version = -1;
  std::string structure;  // entries_fts_data row 10
  std::string averages;   // entries_fts_data row 1
  bool operator==(const FtsVersion& o) const {
    return schema_version == o.schema_version && structure == o.structure && averages == o.averages;
  }
};

class KeywordIndex {
 public:
  // Reads every row of entries_fts in one read snapshot of `db` (which no
  // other thread uses meanwhile), tokenized by `tok`. NotSupported when the
  // table is not Rekall's as Rekall declares it, or FTS5's stored sizes
  // disagree with the tokens; Cancelled when *stop turns true.
  static Status Build(sqlite3* db, const FtsTokenizer& tok, const std::atomic<bool>* stop,
                      std::unique_ptr<KeywordIndex>* out);

  const FtsVersion& version() const { return version_; }
  // Rows now held (FTS5's own count is in the averages record).
  size_t live_rows() const { return live_rows_; }
  size_t dead_rows() const { return docs_.size() - live_rows_; }
  // Bytes held by the postings and the rows (capacity, roughly).
  size_t MemoryBytes() const;

  // Reads FTS rows `rowids` again (gone ones removed) and the version, in
  // the caller's snapshot of `db`. Not ok when the result disagrees with
  // FTS5's totals (the index must then be built again).
  Status Refresh(sqlite3* db, const FtsTokenizer& tok, const std::vector<int64_t>& rowids);

  // Rows holding `phrase` (its tokens one after another in one column):
  // FTS5's count for a quoted string.
  int64_t Holding(const std::vector<std::string>& phrase) const;
  // Up to `cap` rows matching any of `phrases` (each the tokens of one
  // quoted string, in query order; repeats count as FTS5 counts repeated
  // phrases), best first, ties by FTS rowid: their rowids and bm25 scores,
  // bit-identical to FTS5's.
  void Rank(const std::vector<std::vector<std::string>>& phrases, int64_t cap,
            std::vector<std::pair<int64_t, double>>* rows) const;

 private:
  KeywordIndex() = default;
  struct Posting {
    uint32_t doc;   // ordinal in docs_
    uint32_t freq;  // sum over the row's hits of the column's weight
  };
  // A row as read from FTS5: its sizes as FTS5 stored them and its text.
  Status AddRow(const FtsTokenizer& tok, int64_t rowid, const std::string& sizes, const std::string* cols);
  void RemoveRow(int64_t rowid);
  // The term ids of `phrase`; false when one is unknown (no row holds it).
  bool Ids(const std::vector<std::string>& phrase, std::vector<uint32_t>* ids) const;
  // Doc's weighted count of the phrase `ids` (positions in a row, column by
  // column, as FTS5 matches a phrase).
  uint32_t PhraseFreq(uint32_t doc, const std::vector<uint32_t>& ids) const;
  // The live rows holding the phrase, with its weighted count in each.
  void PhraseHits(const std::vector<std::string>& phrase, std::vector<Posting>* hits) const;
  // The id of `token`, added when new.
  uint32_t TermId(std::string_view token);
  // A row's tokens being counted (FtsTokenizer::TokenFn).
  struct RowCount {
    KeywordIndex* index;
    std::vector<uint32_t> terms;   // distinct, by first appearance
    std::vector<uint32_t> stream;  // every token, columns one after another
    uint32_t weight;               // of the column being read
  };
  static void CountToken(void* row, std::string_view token);
  // FTS5's row count and token total from the averages record.
  Status ReadTotals();

  FtsVersion version_;
  int64_t fts_rows_ = 0;    // bm25's N
  int64_t fts_tokens_ = 0;  // all columns: avgdl = fts_tokens_ / fts_rows_
  std::unordered_map<std::string, uint32_t> term_ids_;
  std::vector<std::vector<Posting>> postings_;  // by term id, in doc order; dead docs stay
  std::vector<uint32_t> holding_;               // by term id: live docs holding it
  std::vector<uint32_t> row_freq_;              // by term id: scratch of AddRow, zero between rows
  struct Doc {
    int64_t rowid;    // the FTS rowid; -1 once removed
    uint32_t length;  // bm25's D: the row's tokens, all columns
    uint32_t columns[kFtsColumns - 1];  // tokens of title, content, tags
  };
  std::vector<Doc> docs_;
  // By doc: its tokens' ids in order, column after column (phrases are
  // matched on them; a row is removed by them).
  std::vector<std::vector<uint32_t>> doc_tokens_;
  std::unordered_map<int64_t, uint32_t> doc_of_rowid_;
  size_t live_rows_ = 0;
  int64_t live_tokens_ = 0;
  // Rank's scores by doc, +0.0 between calls: one thread ranks at a time
  // (the store's connection is used by one at a time).
  mutable std::vector<double> score_;
};

// The index a server keeps, and whether it may answer now. Methods other
// than the constructor and destructor run with the store's connection held
// by the caller (the engine's lock).
class LiveKeywordIndex {
 public:
  // Watches `db`'s writes; builds from `path` on a thread of its own.
  static Status Open(sqlite3* db, const std::string& path, std::unique_ptr<LiveKeywordIndex>* out);
  ~LiveKeywordIndex();
  LiveKeywordIndex(const LiveKeywordIndex&) = delete;
  LiveKeywordIndex& operator=(const LiveKeywordIndex&) = delete;

  // The index if it holds exactly the state of the file that the caller's
  // read snapshot of `db` sees, caught up with this connection's own writes;
  // null when FTS5 must answer (then a build is under way).
  const KeywordIndex* Current(sqlite3* db);
  const FtsTokenizer& tokenizer() const { return *tok_; }
  // Brackets a write transaction of `db`: BeforeWrite once it holds the
  // write lock (the index caught up with the file as it is), AfterWrite once
  // it has ended. When no other connection committed in between, the rows
  // the write touched are read again at once, so that other connections'
  // commits that touch no keyword row (the vector index's codes, say) can
  // never be mistaken for a change to the keyword table.
  void BeforeWrite(sqlite3* db);
  void AfterWrite(sqlite3* db, bool committed);
  // Gives the memory back (idle server); built again on the next use.
  void Release();

  struct Stats {
    bool ready = false;          // an index is held
    bool building = false;
    uint64_t builds = 0;         // finished builds
    uint64_t answered = 0;       // Current() returned the index
    uint64_t fell_back = 0;      // Current() returned null
    size_t memory_bytes = 0;
    std::string last_error;      // why the last build failed
    double last_build_ms = 0;    // how long the last finished build took
  };
  Stats stats();

  // More own-written rows than this at once (an import) are not read
  // again one by one: the index is built again instead.
  static constexpr size_t kMaxRefreshRows = 256;

 private:
  LiveKeywordIndex() = default;
  static void OnUpdate(void* self, int op, const char* db, const char* table, sqlite3_int64 rowid);
  void StartBuild();
  void BuildLoop();
  const KeywordIndex* Sync(sqlite3* db);
  void InstallBuilt(sqlite3* db);
  // Makes `built` current, read again for this connection's writes since
  // its build began; false when that cannot be proven (then built anew).
  bool CatchUpBuilt(sqlite3* db, KeywordIndex* built, const FtsVersion& now, int64_t dv);

  sqlite3* db_ = nullptr;
  std::string path_;
  std::unique_ptr<FtsTokenizer> tok_;  // of db_
  std::unique_ptr<KeywordIndex> index_;
  int64_t synced_data_version_ = -1;  // db_'s data_version when index_ was last in step
  // db_'s data_version when the build under way started: while it has not
  // moved, only this connection wrote since, and a finished build catches
  // up with what it wrote (dirty_) instead of being thrown away.
  int64_t build_start_data_version_ = -1;
  std::unordered_set<int64_t> dirty_;  // FTS rowids this connection wrote since
  bool dirty_overflow_ = false;
  bool write_open_ = false;  // BeforeWrite found the index in step
  // The schema version at which a build failed: none is tried again
  // until the schema changes (a table declared otherwise stays FTS5's).
  int64_t unsupported_schema_ = -1;

  std::mutex mu_;  // guards what the build thread shares
  std::thread builder_;
  bool building_ = false;
  std::unique_ptr<KeywordIndex> built_;
  Status build_status_;
  std::atomic<bool> stop_{false};
  // No build starts before this (guarded by mu_): see StartBuild.
  std::chrono::steady_clock::time_point next_build_{};
  Stats stats_;
};

}  // namespace rekall::store
