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

#include "util/mapped_array.h"
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
  // Bytes it holds: its arrays' pages written, and the rows added since
  // the build (their postings and rowid map, allocation overheads roughly).
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
  struct Doc {
    int64_t rowid;    // the FTS rowid (kept once removed: docs are found by it)
    uint32_t stream;  // where its tokens start in streams_
    uint32_t length;  // bm25's D: the row's tokens, all columns
    uint32_t columns[kFtsColumns - 1];  // tokens of title, content, tags
    uint32_t live;                      // 0 once removed
  };
  // The term dictionary: every term's bytes once, in one arena, found
  // through an open-addressing table of ids (a map of strings cost ~70
  // bytes a term).
  class Terms {
   public:
    // The id of `term`, or -1 when no row holds it.
    int64_t Find(std::string_view term) const;
    // The id of `term`; *added when it is new (ids count up from 0).
    uint32_t Add(std::string_view term, bool* added);
    size_t size() const { return ends_.size(); }
    size_t MemoryBytes() const { return bytes_.MemoryBytes() + ends_.MemoryBytes() + slots_.MemoryBytes(); }

   private:
    std::string_view Term(uint32_t id) const;
    // The slot of `term`: its id + 1, or 0 where it would go.
    size_t Slot(std::string_view term) const;
    void Rehash(size_t slots);
    MappedArray<char> bytes_;      // the terms one after another
    MappedArray<uint32_t> ends_;   // by id: where its bytes end in bytes_
    MappedArray<uint32_t> slots_;  // id + 1 by hash (0: empty); a power of two, at most half full
  };

  // A row as read from FTS5: its sizes as FTS5 stored them and its text.
  // Its postings are written by Seal for a build, at once after it.
  Status AddRow(const FtsTokenizer& tok, int64_t rowid, const std::string& sizes, const std::string* cols);
  // The build's postings into pool_, term after term.
  Status Seal();
  void RemoveRow(int64_t rowid);
  // The live doc of `rowid`, or -1.
  int64_t DocOf(int64_t rowid) const;
  // Makes `doc` (just appended) findable by its rowid.
  void Place(uint32_t doc);
  // Calls fn(term, weighted count) once for each term of `doc`, in order of
  // first appearance.
  template <typename Fn>
  void ForTerms(uint32_t doc, Fn fn);
  // Doc's token ids, columns one after another.
  void Decode(uint32_t doc, std::vector<uint32_t>* ids) const;
  // Calls fn(posting) for each posting of `term`, dead docs included.
  template <typename Fn>
  void ForPostings(uint32_t term, Fn fn) const;
  // The term ids of `phrase`; false when one is unknown (no row holds it).
  bool Ids(const std::vector<std::string>& phrase, std::vector<uint32_t>* ids) const;
  // Doc's weighted count of the phrase `ids` (positions in a row, column by
  // column, as FTS5 matches a phrase); `tokens` is scratch.
  uint32_t PhraseFreq(uint32_t doc, const std::vector<uint32_t>& ids, std::vector<uint32_t>* tokens) const;
  // The live rows holding the phrase, with its weighted count in each.
  void PhraseHits(const std::vector<std::string>& phrase, std::vector<Posting>* hits) const;
  // A row's tokens being read (FtsTokenizer::TokenFn).
  struct RowCount {
    KeywordIndex* index;
    uint32_t tokens;  // read so far
  };
  static void CountToken(void* row, std::string_view token);
  // FTS5's row count and token total from the averages record.
  Status ReadTotals();

  FtsVersion version_;
  int64_t fts_rows_ = 0;    // bm25's N
  int64_t fts_tokens_ = 0;  // all columns: avgdl = fts_tokens_ / fts_rows_
  // The index's bulk is in arrays of pages of their own (MappedArray), so
  // that letting it go gives the memory back to the system.
  Terms terms_;
  MappedArray<uint32_t> holding_;   // by term id: live docs holding it
  MappedArray<uint32_t> row_freq_;  // by term id: scratch, zero between rows
  std::vector<uint32_t> row_terms_;  // scratch: a row's terms, by first appearance
  MappedArray<Doc> docs_;
  // By doc: its tokens' ids as varints (the frequent, early-seen terms
  // take one byte), column after column: phrases are matched on them, a
  // row is removed by them. A removed row's bytes stay until the next build
  // (the newest row's go at once: an update of what was just written).
  MappedArray<uint8_t> streams_;
  // The build's postings, term after term, each term's in doc order as
  // varint pairs (doc - previous doc, freq): 2-3 bytes a posting instead
  // of 8. Term t's are the bytes [pool_start_[t], pool_start_[t + 1]).
  // Removed rows' stay, skipped.
  MappedArray<uint8_t> pool_;
  MappedArray<uint32_t> pool_start_;  // by term id known at the build, + the end
  bool sealed_ = false;
  size_t pooled_docs_ = 0;  // docs in pool_: the build's
  // Postings of the rows added since the build, by term (few).
  std::unordered_map<uint32_t, std::vector<Posting>> added_;
  // docs_[0, sorted_docs_) come in ascending rowid (a build reads them so)
  // and are found by bisection; a doc after them through later_.
  size_t sorted_docs_ = 0;
  std::unordered_map<int64_t, uint32_t> later_;
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
