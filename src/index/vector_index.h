// VectorIndex: k-nearest-neighbour search over the 'summary' embeddings of
// entries, by cosine similarity. One interface, two backends giving the same
// results:
//   "sqlite-vec"  a vec0 virtual table `embeddings_vec` inside the database
//                 file (persistent, shared with other processes);
//   "brute"       an in-memory float32 matrix scanned with SIMD, rebuilt from
//                 the `embeddings` table when opened.
// The `embeddings` table stays the source of truth: either backend can be
// rebuilt from it at any time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "index/scan_report.h"
#include "util/our_embeddings.h"
#include "util/status.h"

struct sqlite3;

namespace rekall {

// Every field set is required; `tags` must all be present on the entry.
// An entry without a project has project "" (vec0 metadata cannot hold NULL).
struct Filter {
  std::optional<std::string> type, project, status;
  std::vector<std::string> tags;
  bool empty() const { return !type && !project && !status && tags.empty(); }
};

struct Hit {
  std::string entry_id;
  float score;  // cosine similarity in [-1, 1]
};

struct EntryMeta {
  std::string type, project, status;
  std::vector<std::string> tags;
};

enum class IndexBackend { kAuto, kSqliteVec, kBrute };
// "auto" | "sqlite-vec" | "brute"
Status ParseIndexBackend(const std::string& s, IndexBackend* out);

struct IndexOptions {
  IndexBackend backend = IndexBackend::kAuto;
  std::string extension_path;  // sqlite-vec loadable library (vec0.so)
  int dim = kOurDim;  // of every vector; an index over the database holds ours
  int threads = 0;                     // brute: 0 = all hardware threads
  size_t parallel_threshold = 50000;   // brute: rows before the scan is split
  Quantization quantization = Quantization::kAuto;
  size_t quantize_threshold = 100000;  // brute: see Quantization::kAuto
  int rescore_factor = 20;             // brute int8: rescore factor*k candidates
  // brute: see Quantization::kAuto. Equal to quantize_threshold: the 1-bit
  // path was 2.8x faster than int8 at 100K, so kAuto goes float -> 1-bit
  // and int8 is only used when asked for (or with a higher bits_threshold).
  size_t bits_threshold = 100000;
  // brute 1-bit: rows rescored exactly (at least 20*k). Rescoring is a
  // scattered read of 1.5 KB a row and dominates the search: 1000 gave
  // recall@10 0.990 at 1M and 0.9995 at 100K; 2000 gave 0.998 at 1M for
  // 14 ms p50 instead of 7.7 ms.
  size_t bits_candidates = 1000;
  // brute kAuto: the recall self-check of the 1-bit pre-scan. Each time the
  // codes are fitted (the load, a reload, the base doubled since), recall@10
  // of the pre-scan + rescoring is estimated against the exact scan on this
  // many queries drawn from the rows held (bits_recall_check.h); the
  // rescored rows are doubled from bits_candidates up to
  // bits_max_candidates until the estimate, less two standard errors,
  // reaches bits_min_recall, and past that the index scans int8 instead.
  // 0 = no check (the 1-bit path at bits_candidates, as kBits). Real MiniLM
  // vectors keep 1000 candidates; random unit vectors fall back to int8
  // (bench/index/RESULTS.md, "The 1-bit pre-scan's recall self-check").
  int bits_check_queries = 64;
  double bits_min_recall = 0.95;
  size_t bits_max_candidates = 4000;
  // The sample queries' seed: the same rows give the same verdict.
  uint64_t bits_check_seed = 0x5eed;
  // sqlite-vec: rescore the best this*16 codes exactly (k when larger).
  // 6 * max(k, 16) gave recall@10 0.994 on
  // SciFact but 0.89 (3 top hits of 30 wrong) on the soak store's
  // near-template notes; 24 gave 0.977 and 64 gave 0.993 there, for ~30 ms
  // more per search at 10K (hostile test, 2026-11-30).
  int vec_candidates_per_k = 64;
  // Before each Search, check PRAGMA data_version and resynchronise if another
  // connection changed the embeddings/entries/tags tables.
  bool auto_refresh = true;
  // sqlite-vec: embeddings_vec is built (on first use, after a change of
  // shape, or by Rebuild) in committed batches of this many rows, in
  // entry_id order, so that a build interrupted (even by SIGKILL) resumes
  // where it stopped. Until the build is complete, Search and Count answer
  // exactly from the source tables, never from the partial table.
  size_t build_batch_rows = 2000;
  // sqlite-vec: most batches built per call (open, Refresh, and Search or
  // Count with auto_refresh) while the build is incomplete; 0 = finish it
  // when opened. Batches only run outside the caller's transaction.
  size_t build_batches_per_call = 0;
  // Tests: called inside each build batch's transaction, just before its
  // commit, with the number of rows the batch inserted.
  std::function<void(size_t)> build_batch_hook;
  // brute on a database file: OpenVectorIndex returns at once and the
  // matrix loads on a thread of its own, through a read-only connection of
  // its own; searches and counts meanwhile scan the source tables exactly on
  // the caller's connection (a server's first search at 100K entries then
  // waits for no load: bench/engine/RESULTS.md), writes go to the tables
  // alone, and the loaded index takes over at the first call after the
  // load, caught up with every commit since its snapshot.
  bool load_in_background = false;
  // brute loaded in the background, from this many rows (0: never): once
  // loaded, the 1-bit codes of its rows are stored in the file (table
  // rekall_index_codes, a write transaction on the loading thread, skipped
  // on a read-only file or when they are current), and the next such index
  // answers from them while it loads: its first search at 100K entries
  // reads 4.8 MB of codes instead of 154 MB of vectors
  // (index/stored_codes.h, bench/engine/RESULTS.md). Below it the exact
  // scan is quick (10K entries: about a tenth of 100K's).
  size_t codes_min_rows = 10000;
  // Tests: called on the loading thread inside the load's read transaction
  // once every row is read (loaded = false), then once the loaded index is
  // handed over and its codes are stored (loaded = true).
  std::function<void(bool loaded)> background_load_hook;
};

// All methods are safe to call from several threads, but they use the
// sqlite3* given at open time, so that connection must be opened in
// serialized mode (SQLite's default) or used under the caller's lock.
class VectorIndex {
 public:
  virtual ~VectorIndex();
  virtual const char* name() const = 0;  // "sqlite-vec" | "brute"
  virtual int dim() const = 0;

  // Writes run on the caller's connection and inside its open transaction,
  // if any: the Store wraps entry + embedding + index row in one transaction.
  // Vectors are normalised before they are stored; meta.project "" = none.
  // Upsert also serves to change only the metadata of an entry.
  virtual Status Upsert(const std::string& entry_id, const float* vec, int dim,
                        const EntryMeta& meta) = 0;
  // Removing an absent id is not an error.
  virtual Status Remove(const std::string& entry_id) = 0;

  // Top-k by cosine similarity, sorted by score desc then entry_id asc.
  // k <= 0 or an empty base gives no hits; k > matches gives all matches.
  virtual Status Search(const float* query, int dim, int k, const Filter& f,
                        std::vector<Hit>* out) = 0;
  virtual Status Count(size_t* n) = 0;

  // Reloads the whole index from embeddings(embedding_type='summary') of our
  // model joined with entries (type/project/status; an embedding without
  // its entry is ignored) and tags. Rows whose vector is not dim float32
  // values are skipped and counted in *skipped. Brute: about 0.5 s per 100K.
  virtual Status Rebuild(size_t* loaded, size_t* skipped) = 0;
  // Checks PRAGMA data_version; if another connection committed and the
  // source tables moved, resynchronises (brute: reads only the rows that
  // changed, or reloads when it cannot prove what changed; sqlite-vec:
  // rewrites only the rows that differ). *changed tells.
  virtual Status Refresh(bool* changed) = 0;
  // The caller's transaction that carried Upsert/Remove calls rolled back:
  // in-memory state must be reloaded before the next search.
  virtual void MarkStale() = 0;
  // Gives back the memory the index can rebuild from the database (an idle
  // server), and tells whether anything worth keeping is left. True: the
  // index held only a copy of the embeddings table (brute: its matrix is
  // freed and reloaded at the next use), so the caller may as well close
  // it. False: it is cheap to keep open (sqlite-vec: its table lives in the
  // file; only cached statements go), or, brute without a database,
  // nothing could be rebuilt and nothing was freed.
  virtual bool ReleaseMemory() = 0;
  // How an unfiltered search scans now (`rekall stats`, rekall_info), for
  // the brute index; false, *r untouched, for a backend with nothing to say
  // (sqlite-vec: its 3-bit code and candidates are fixed).
  virtual bool Describe(ScanReport* r);
};

// Opens the index for `db`. backend=kAuto tries sqlite-vec and falls back to
// brute force with a one-line *notice (never an error) when the extension is
// absent or not loadable; backend=kSqliteVec failing is an error, and so is
// Busy for either (another writer held the lock past the busy timeout). The index
// is built (or caught up) from the embeddings table before returning, except
// for a sqlite-vec build bounded by build_batches_per_call or opened inside
// the caller's transaction: it then continues on later calls, and searches
// meanwhile score the source tables exactly.
Status OpenVectorIndex(sqlite3* db, const IndexOptions& opts,
                       std::unique_ptr<VectorIndex>* out, std::string* notice);

}  // namespace rekall
