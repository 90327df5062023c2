#include "index/stored_codes.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "index/simd_bits.h"

namespace rekall::index_internal {

namespace {

constexpr const char* kTable = "rekall_index_codes";
// The layout named in the header's tail; any other is no codes. bits2 adds
// the checksum: bits1 tables (2026-11-30) checked blob sizes only, and a
// chunk zeroed or swapped in place gave wrong answers during the next
// server's load (hostile test, 9 of 14 probes); such a table is read as no
// codes and rewritten after the load.
constexpr const char* kLayout = "bits2";
// Rows a chunk holds: a multiple of the kernel's block, ~200 KB of codes
// and 32 KB of rowids at 384-d, 25 chunks at 100K.
constexpr size_t kChunkRows = 4096;

size_t Blocked(size_t rows) { return (rows + simd::kBitBlockRows - 1) / simd::kBitBlockRows * simd::kBitBlockRows; }

// The header's layout tail.
struct Layout {
  int dim = 0;
  int64_t rows = 0, chunk_rows = 0, block_rows = 0, candidates = 0;
  uint64_t checksum = 0;  // Checksum() of the codes stored
};

std::string LayoutTail(const Layout& l) {
  return std::string(" ") + kLayout + " " + std::to_string(l.dim) + " " + std::to_string(l.rows) + " " +
         std::to_string(l.chunk_rows) + " " + std::to_string(l.block_rows) + " " + std::to_string(l.candidates) +
         " " + std::to_string(l.checksum);
}

bool ParseLayout(const std::string& tail, Layout* l) {
  char name[8] = {0};
  long long rows = 0, chunk_rows = 0, block_rows = 0, candidates = 0;
  unsigned long long checksum = 0;
  int dim = 0, used = 0;
  if (std::sscanf(tail.c_str(), " %7s %d %lld %lld %lld %lld %llu%n", name, &dim, &rows, &chunk_rows, &block_rows,
                  &candidates, &checksum, &used) != 7)
    return false;
  if (size_t(used) != tail.size() || std::strcmp(name, kLayout) != 0 || candidates < 0) return false;
  *l = Layout{dim, rows, chunk_rows, block_rows, candidates, checksum};
  return true;
}

// Folds `bytes` into h, 8 at a time (a multiply-xorshift mix per word:
// ~1 ms for the 5.6 MB of codes at 100K, beside 5 ms to read them). It
// catches damage and misplaced chunks, not a deliberate forgery: whoever
// can write the file can write anything in it.
uint64_t Fold(uint64_t h, const void* bytes, size_t n) {
  const auto* p = static_cast<const unsigned char*>(bytes);
  for (size_t i = 0; i < n; i += 8) {
    uint64_t w = 0;
    std::memcpy(&w, p + i, std::min<size_t>(8, n - i));
    h = (h ^ w) * 0x9E3779B97F4A7C15ull;
    h ^= h >> 29;
  }
  return (h ^ n) * 0xBF58476D1CE4E5B9ull;
}

// Of everything a search from the codes trusts: thresholds, rowids, codes,
// in order.
// in order; the codes as far as the rows' blocks (what is stored of them).
uint64_t Checksum(const StoredCodes& c) {
  const size_t words = std::min(c.codes.size(), Blocked(c.rowids.size()) * BitWords(c.dim));
  uint64_t h = Fold(0x52656B61ull, c.mean.data(), c.mean.size() * sizeof(float));
  h = Fold(h, c.rowids.data(), c.rowids.size() * sizeof(int64_t));
  return Fold(h, c.codes.data(), words * sizeof(uint64_t));
}

// The stored header: marks, layout and thresholds; false when absent or unparsable.
bool ReadHeader(sqlite::Stmt& st, SourceMarks* marks, Layout* l, std::vector<float>* mean) {
  if (st.Step() != SQLITE_ROW || st.Int(0) != 0 || st.Blob(1) == nullptr) return false;
  const std::string text(static_cast<const char*>(st.Blob(1)), size_t(st.Bytes(1)));
  std::string tail;
  if (!ParseMarks(text, marks, &tail) || !ParseLayout(tail, l)) return false;
  const int64_t block = int64_t(simd::kBitBlockRows);
  if (l->dim <= 0 || l->rows < 0 || l->rows > int64_t(UINT32_MAX) || l->chunk_rows <= 0 ||
      l->chunk_rows % block != 0 || l->block_rows != block)
    return false;
  if (st.Blob(2) == nullptr || size_t(st.Bytes(2)) != sizeof(float) * size_t(l->dim)) return false;
  mean->resize(size_t(l->dim));
  std::memcpy(mean->data(), st.Blob(2), st.Bytes(2));
  return true;
}

// Chunk `i` (from 1) of a table laid out as `l`, appended to *out (which
// holds the chunks before it): sized by its blobs, never by the header.
bool ReadChunk(sqlite::Stmt& st, int64_t i, const Layout& l, StoredCodes* out) {
  if (st.Step() != SQLITE_ROW || st.Int(0) != i) return false;
  const size_t first = out->rowids.size();
  const size_t rows = size_t(std::min(l.rows - int64_t(first), l.chunk_rows));
  const size_t words = Blocked(rows) * BitWords(l.dim);
  if (st.Blob(1) == nullptr || size_t(st.Bytes(1)) != rows * sizeof(int64_t)) return false;
  if (st.Blob(2) == nullptr || size_t(st.Bytes(2)) != words * sizeof(uint64_t)) return false;
  out->rowids.resize(first + rows);
  out->codes.resize(first * BitWords(l.dim) + words);
  std::memcpy(out->rowids.data() + first, st.Blob(1), st.Bytes(1));
  std::memcpy(out->codes.data() + first * BitWords(l.dim), st.Blob(2), st.Bytes(2));
  return true;
}

Status TableExists(sqlite3* db, bool* has) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, std::string("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '") +
                                kTable + "'");
  if (s.ok()) s = st.StepRow("schema");
  if (s.ok()) *has = st.Int(0) == 1;
  return s;
}

// Whether the stored header already describes `c`.
bool Current(sqlite3* db, const StoredCodes& c) {
  bool has = false;
  if (!TableExists(db, &has).ok() || !has) return false;
  sqlite::Stmt st;
  if (!st.Prepare(db, std::string("SELECT chunk, keys, data FROM ") + kTable + " WHERE chunk = 0").ok()) return false;
  SourceMarks marks;
  Layout l;
  std::vector<float> mean;
  return ReadHeader(st, &marks, &l, &mean) && marks == c.marks && l.dim == c.dim &&
         l.rows == int64_t(c.rowids.size()) && l.chunk_rows == int64_t(kChunkRows) &&
         l.candidates == int64_t(c.candidates);
}

Status InsertChunk(sqlite::Stmt& ins, int64_t chunk, const void* keys, size_t key_bytes, const void* data,
                   size_t data_bytes) {
  ins.Reset();
  ins.Bind(1, chunk);
  ins.BindBlob(2, keys, key_bytes);
  ins.BindBlob(3, data, data_bytes);
  return ins.Run(std::string("writing ") + kTable);
}

}  // namespace

uint64_t BitCodeWord(const float* v, const float* mean, int dim, size_t w) {
  uint64_t x = 0;
  const int end = std::min(dim, int(64 * w + 64));
  for (int j = int(64 * w); j < end; ++j) x |= uint64_t(v[j] > mean[j]) << (j % 64);
  return x;
}

std::vector<float> FitBitMeans(const float* rows, size_t n, size_t stride, int dim) {
  std::vector<double> sum(size_t(dim), 0.0);
  for (size_t i = 0; i < n; ++i) {
    const float* r = rows + i * stride;
    for (int j = 0; j < dim; ++j) sum[j] += r[j];
  }
  std::vector<float> mean(size_t(dim), 0.0f);
  for (int j = 0; j < dim; ++j) mean[j] = n ? float(sum[j] / double(n)) : 0.0f;
  return mean;
}

void EncodeBitRows(const float* rows, size_t n, size_t stride, int dim, const std::vector<float>& mean,
                   uint64_t* codes) {
  const size_t words = BitWords(dim);
  for (size_t i = 0; i < n; ++i) {
    const float* v = rows + i * stride;
    for (size_t w = 0; w < words; ++w) codes[simd::BitWordIndex(i, w, words)] = BitCodeWord(v, mean.data(), dim, w);
  }
}

Status CreateStoredCodesTable(sqlite3* db) {
  bool has = false;
  Status s = TableExists(db, &has);
  if (!s.ok() || has) return s;
  return sqlite::Exec(db,
                      std::string("CREATE TABLE IF NOT EXISTS ") + kTable +
                          "(chunk INTEGER PRIMARY KEY, keys BLOB NOT NULL, data BLOB NOT NULL)",
                      std::string("creating ") + kTable);
}

Status WriteStoredCodes(sqlite3* db, const StoredCodes& c, bool* written) {
  *written = false;
  if (Current(db, c)) return Status::OK();
  const size_t n = c.rowids.size(), words = BitWords(c.dim);
  if (c.mean.size() != size_t(c.dim) || c.codes.size() < Blocked(n) * words)
    return Status::InvalidArgument("codes not of their stated size");
  bool has = false;
  Status s = TableExists(db, &has);
  if (!s.ok() || !has) return s;  // created only by CreateStoredCodesTable
  sqlite::Transaction t;
  s = t.Begin(db, std::string("writing ") + kTable);
  if (s.ok()) s = sqlite::Exec(db, std::string("DELETE FROM ") + kTable, std::string("clearing ") + kTable);
  sqlite::Stmt ins;
  if (s.ok()) s = ins.Prepare(db, std::string("INSERT INTO ") + kTable + "(chunk, keys, data) VALUES (?1, ?2, ?3)");
  if (!s.ok()) return s;
  const Layout layout{c.dim, int64_t(n), int64_t(kChunkRows), int64_t(simd::kBitBlockRows), int64_t(c.candidates),
                      Checksum(c)};
  const std::string head = SerializeMarks(c.marks, LayoutTail(layout));
  s = InsertChunk(ins, 0, head.data(), head.size(), c.mean.data(), c.mean.size() * sizeof(float));
  for (size_t first = 0, i = 1; s.ok() && first < n; first += kChunkRows, ++i) {
    const size_t rows = std::min(n - first, kChunkRows);
    s = InsertChunk(ins, int64_t(i), c.rowids.data() + first, rows * sizeof(int64_t), c.codes.data() + first * words,
                    Blocked(rows) * words * sizeof(uint64_t));
  }
  if (s.ok()) s = t.Commit(std::string("writing ") + kTable);
  *written = s.ok();
  return s;
}

bool ReadStoredCodes(sqlite3* db, int dim, StoredCodes* out) {
  bool has = false;
  if (!TableExists(db, &has).ok() || !has) return false;
  sqlite::Stmt st;
  if (!st.Prepare(db, std::string("SELECT chunk, keys, data FROM ") + kTable + " ORDER BY chunk").ok()) return false;
  Layout l;
  if (!ReadHeader(st, &out->marks, &l, &out->mean) || l.dim != dim) return false;
  out->dim = dim;
  out->candidates = size_t(l.candidates);
  out->rowids.clear();
  out->codes.clear();
  for (int64_t i = 1; int64_t(out->rowids.size()) < l.rows; ++i) {
    if (!ReadChunk(st, i, l, out)) return false;
  }
  // No chunk beyond those the header counts, and each holding what was written.
  return st.Step() == SQLITE_DONE && Checksum(*out) == l.checksum;
}

namespace {

// The `scan` rows of `c` nearest to q by Hamming distance, nearest first
// (rows in increasing order break ties, as in memory).
std::vector<uint32_t> NearestByCode(const StoredCodes& c, const std::vector<float>& q, size_t scan) {
  const size_t n = c.rowids.size(), words = BitWords(c.dim);
  std::vector<uint64_t> qw(words);
  for (size_t w = 0; w < words; ++w) qw[w] = BitCodeWord(q.data(), c.mean.data(), c.dim, w);
  const simd::BitKernels& kern = simd::BestBits();
  // (distance, row) in one key: its order is the candidates' order.
  std::vector<uint64_t> keys(n);
  int32_t d[256];
  for (size_t b = 0; b < n; b += 256) {
    const size_t m = std::min<size_t>(256, n - b);
    kern.hamming_rows(qw.data(), c.codes.data(), words, b, m, d);
    for (size_t i = 0; i < m; ++i) keys[b + i] = uint64_t(uint32_t(d[i])) << 32 | uint64_t(b + i);
  }
  scan = std::min(scan, n);
  std::nth_element(keys.begin(), keys.begin() + scan, keys.end());
  keys.resize(scan);
  std::sort(keys.begin(), keys.end());
  std::vector<uint32_t> rows(scan);
  for (size_t i = 0; i < scan; ++i) rows[i] = uint32_t(keys[i] & 0xffffffffu);
  return rows;
}

// The candidates in order, read back from `embeddings` by rowid: gone rows,
// rows of entries in `skip` (sorted) and rows failing `f` are passed over,
// and the first `want` others scored into *pool. *passed: how many.
Status ScoreCandidates(sqlite3* db, const StoredCodes& c, const std::vector<uint32_t>& rows,
                       const std::vector<std::string>& skip, const Filter& f, SourceScorer* scorer, size_t want,
                       std::vector<Hit>* pool, size_t* passed) {
  sqlite::Stmt st;
  Status s =
      st.Prepare(db, "SELECT em.entry_id, em.vector FROM embeddings em WHERE em.rowid = ?1 AND " + SourceWhere());
  if (!s.ok()) return s;
  EntryCheck check(db, f);
  *passed = 0;
  for (size_t i = 0; i < rows.size() && *passed < want; ++i) {
    st.Reset();
    st.Bind(1, c.rowids[rows[i]]);
    const int rc = st.Step();
    if (rc != SQLITE_ROW) {
      if (!(s = st.Done(rc, "reading embeddings")).ok()) return s;
      continue;  // gone since the codes were written
    }
    const std::string id = st.Text(0);
    if (std::binary_search(skip.begin(), skip.end(), id)) continue;  // scored from the source
    bool pass = false;
    if (!(s = check.Passes(id, &pass)).ok()) return s;
    if (!pass) continue;
    ++*passed;
    float score;
    if (scorer->Score(st.Blob(1), st.Bytes(1), &score)) pool->push_back(Hit{id, score});
  }
  return Status::OK();
}

// The rows of `ids` passing `f`, scored exactly into *pool.
Status ScoreChanged(sqlite3* db, int dim, const std::vector<std::string>& ids, const Filter& f, SourceScorer* scorer,
                    std::vector<Hit>* pool) {
  EntryCheck check(db, f);
  return ForEachSourceRowOf(db, dim, ids, [&](const SourceRow& r) {
    bool pass = false;
    Status s = check.Passes(r.entry_id, &pass);
    float score;
    if (s.ok() && pass && scorer->Score(r.vec, dim * int(sizeof(float)), &score))
      pool->push_back(Hit{r.entry_id, score});
    return s;
  });
}

}  // namespace

Status StoredCodesSearch(sqlite3* db, const StoredCodes& c, const std::vector<float>& q, int k, const Filter& f,
                         size_t candidates, std::vector<Hit>* out, CodesAnswer* answer) {
  out->clear();
  *answer = CodesAnswer::kStale;
  sqlite::ReadSnapshot snap(db);  // the marks and the rows read back agree
  SourceMarks now;
  Status s = ReadSourceMarks(db, &now);
  if (!s.ok()) return s;
  std::vector<std::string> changed;
  if (now != c.marks) {
    SourceChanges ch;
    if (!(s = FindSourceChanges(db, c.marks, now, &ch)).ok()) return s;
    // As the in-memory catch-up: past an eighth of the rows, reading the
    // changed rows one by one costs more than the exact scan.
    if (!ch.provable || ch.touched.size() > c.rowids.size() / 8 + 64) return Status::OK();
    changed = std::move(ch.touched);  // sorted, unique
  }
  SourceScorer scorer(q, c.dim);
  std::vector<Hit> pool;
  if (!(s = ScoreChanged(db, c.dim, changed, f, &scorer, &pool)).ok()) return s;
  // Twice the candidates by code leave room for rows a light filter (the
  // default status = active) or a deletion passes over.
  const std::vector<uint32_t> rows = NearestByCode(c, q, 2 * candidates);
  size_t passed = 0;
  if (!(s = ScoreCandidates(db, c, rows, changed, f, &scorer, candidates, &pool, &passed)).ok()) return s;
  if (passed < candidates && rows.size() < c.rowids.size()) {
    *answer = CodesAnswer::kTooFine;
    return Status::OK();
  }
  std::sort(pool.begin(), pool.end(), HitBefore);
  if (pool.size() > size_t(std::max(k, 0))) pool.resize(size_t(std::max(k, 0)));
  *out = std::move(pool);
  *answer = CodesAnswer::kAnswered;
  return Status::OK();
}

}  // namespace rekall::index_internal
