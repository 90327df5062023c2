// KeywordIndex and LiveKeywordIndex (keyword_index.h). Compiled with
// -ffp-contract=off (CMakeLists.txt): a fused multiply-add would round
// differently from SQLite's bm25() and break bit-identical scores.
#include "store/keyword_index.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstring>
#include <functional>

#include "sqlite/sqlite.h"

namespace rekall::store {

namespace {

using sqlite::Stmt;

// FTS5_MAX_TOKEN_SIZE: FTS5 cuts longer tokens to this many bytes.
constexpr int kMaxTokenBytes = 32768;
// entries_fts_data rows: FTS5_AVERAGES_ROWID and FTS5_STRUCTURE_ROWID.
constexpr int64_t kAveragesRow = 1;
constexpr int64_t kStructureRow = 10;

// Rekall's declaration of its keyword table, normalised (Normalized()):
// the only one whose tokens and sizes we know to reproduce.
constexpr const char* kRekallFtsSql =
    "create virtual table entries_fts using fts5(id unindexed,title,content,tags,tokenize='porter unicode61')";

// Lower case, whitespace runs as one space, none around ( ) , =.
std::string Normalized(const std::string& sql) {
  std::string out;
  for (char c : sql) {
    const bool space = std::isspace(static_cast<unsigned char>(c));
    if (space && (out.empty() || out.back() == ' ')) continue;
    const char ch = space ? ' ' : static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (std::strchr("(),=", ch) && !out.empty() && out.back() == ' ') out.pop_back();
    if (ch == ' ' && !out.empty() && std::strchr("(),=", out.back())) continue;
    out += ch;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// SQLite's varint (FTS5 records use it): 1 to 9 bytes, big-endian 7-bit
// groups, the ninth byte whole. 0 when `n` bytes do not hold one.
size_t GetVarint(const unsigned char* p, size_t n, uint64_t* v) {
  uint64_t x = 0;
  for (size_t i = 0; i < 9; ++i) {
    if (i >= n) return 0;
    if (i == 8) {
      *v = (x << 8) | p[8];
      return 9;
    }
    x = (x << 7) | (p[i] & 0x7f);
    if (!(p[i] & 0x80)) {
      *v = x;
      return i + 1;
    }
  }
  return 0;
}

// The column sizes of a docsize record, as FTS5 decodes them: exactly
// kFtsColumns varints filling the record.
bool DecodeSizes(const std::string& blob, uint32_t* sizes) {
  const auto* p = reinterpret_cast<const unsigned char*>(blob.data());
  size_t off = 0;
  for (int i = 0; i < kFtsColumns; ++i) {
    uint64_t v = 0;
    size_t used = GetVarint(p + off, blob.size() - off, &v);
    if (used == 0) return false;
    sizes[i] = static_cast<uint32_t>(v);
    off += used;
  }
  return off == blob.size();
}

std::string BlobOf(const Stmt& st, int col) {
  const void* p = st.Blob(col);
  return p ? std::string(static_cast<const char*>(p), size_t(st.Bytes(col))) : std::string();
}

Status CheckDeclaration(sqlite3* db) {
  Stmt st(db, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'entries_fts'");
  Status s = st.status("reading the keyword table's declaration");
  if (!s.ok()) return s;
  if (st.Step() != SQLITE_ROW || Normalized(st.Text(0)) != kRekallFtsSql)
    return Status::Unavailable("entries_fts is not declared as Rekall declares it: FTS5 ranks");
  return Status::OK();
}

Status ReadVersion(sqlite3* db, FtsVersion* v) {
  Stmt schema(db, "PRAGMA schema_version");
  Status s = schema.StepRow("reading the schema version");
  if (!s.ok()) return s;
  v->schema_version = schema.Int(0);
  v->structure.clear();
  v->averages.clear();
  Stmt st(db, "SELECT id, block FROM entries_fts_data WHERE id IN (" + std::to_string(kAveragesRow) + ", " +
                  std::to_string(kStructureRow) + ")");
  if (!(s = st.status("reading the keyword table's records")).ok()) return s;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    (st.Int(0) == kAveragesRow ? v->averages : v->structure) = BlobOf(st, 1);
  }
  return st.Done(rc, "reading the keyword table's records");
}

// The rows of entries_fts with their stored sizes: all, or one (`?1`).
constexpr const char* kRowsSql =
    "SELECT c.id, d.sz, c.c1, c.c2, c.c3 FROM entries_fts_content c "
    "LEFT JOIN entries_fts_docsize d ON d.id = c.id";

}  // namespace

// ---------------------------------------------------------------- FtsTokenizer

struct FtsTokenizer::Impl {
  fts5_tokenizer api{};
  Fts5Tokenizer* tok = nullptr;
};

Status FtsTokenizer::Open(sqlite3* db, std::unique_ptr<FtsTokenizer>* out) {
  fts5_api* api = nullptr;
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &st, nullptr) != SQLITE_OK)
    return Status::Unavailable("this SQLite has no FTS5");
  sqlite3_bind_pointer(st, 1, &api, "fts5_api_ptr", nullptr);
  sqlite3_step(st);
  sqlite3_finalize(st);
  if (!api) return Status::Unavailable("this SQLite gives no fts5_api");
  std::unique_ptr<FtsTokenizer> t(new FtsTokenizer());
  t->impl_ = std::make_unique<Impl>();
  void* user = nullptr;
  if (api->xFindTokenizer(api, "porter", &user, &t->impl_->api) != SQLITE_OK)
    return Status::Unavailable("FTS5 has no porter tokenizer");
  const char* args[] = {"unicode61"};
  if (t->impl_->api.xCreate(user, args, 1, &t->impl_->tok) != SQLITE_OK)
    return Status::Unavailable("FTS5's porter unicode61 tokenizer could not be created");
  *out = std::move(t);
  return Status::OK();
}

FtsTokenizer::~FtsTokenizer() {
  if (impl_ && impl_->tok) impl_->api.xDelete(impl_->tok);
}

namespace {
struct TokenCall {
  FtsTokenizer::TokenFn fn;
  void* ctx;
};
int OnToken(void* p, int /*flags*/, const char* token, int n, int /*start*/, int /*end*/) {
  auto* call = static_cast<TokenCall*>(p);
  call->fn(call->ctx, std::string_view(token, size_t(std::min(n, kMaxTokenBytes))));
  return SQLITE_OK;
}
}  // namespace

Status FtsTokenizer::Tokenize(std::string_view text, bool query, TokenFn fn, void* ctx) const {
  TokenCall call{fn, ctx};
  int rc = impl_->api.xTokenize(impl_->tok, &call, query ? FTS5_TOKENIZE_QUERY : FTS5_TOKENIZE_DOCUMENT,
                                text.data(), int(text.size()), OnToken);
  return rc == SQLITE_OK ? Status::OK() : Status::Internal("FTS5's tokenizer failed (" + std::to_string(rc) + ")");
}

// ---------------------------------------------------------------- KeywordIndex

Status KeywordIndex::Build(sqlite3* db, const FtsTokenizer& tok, const std::atomic<bool>* stop,
                           std::unique_ptr<KeywordIndex>* out) {
  sqlite::ReadSnapshot snapshot(db);
  Status s = CheckDeclaration(db);
  std::unique_ptr<KeywordIndex> idx(new KeywordIndex());
  if (s.ok()) s = ReadVersion(db, &idx->version_);
  if (s.ok()) s = idx->ReadTotals();
  Stmt st(db, kRowsSql);
  if (s.ok()) s = st.status("reading the keyword table");
  int rc = SQLITE_DONE;
  while (s.ok() && (rc = st.Step()) == SQLITE_ROW) {
    if (stop && stop->load(std::memory_order_relaxed)) return Status::Cancelled("keyword index build stopped");
    const std::string cols[3] = {st.Text(2), st.Text(3), st.Text(4)};
    s = idx->AddRow(tok, st.Int(0), BlobOf(st, 1), cols);
  }
  if (s.ok()) s = st.Done(rc, "reading the keyword table");
  if (s.ok()) s = idx->Seal();
  if (s.ok() && (idx->live_rows_ != size_t(idx->fts_rows_) || idx->live_tokens_ != idx->fts_tokens_))
    s = Status::Unavailable("FTS5's totals disagree with its rows: FTS5 ranks");
  Stmt sizes(db, "SELECT count(*) FROM entries_fts_docsize");
  if (s.ok()) s = sizes.StepRow("counting the keyword table's sizes");
  if (s.ok() && size_t(sizes.Int(0)) != idx->live_rows_)
    s = Status::Unavailable("FTS5 stores sizes of rows it does not hold: FTS5 ranks");
  if (s.ok()) *out = std::move(idx);
  return s;
}

Status KeywordIndex::ReadTotals() {
  const auto* p = reinterpret_cast<const unsigned char*>(version_.averages.data());
  const size_t n = version_.averages.size();
  fts_rows_ = fts_tokens_ = 0;
  if (n == 0) return Status::OK();  // an empty table
  uint64_t v = 0;
  size_t off = GetVarint(p, n, &v);
  if (off == 0) return Status::Unavailable("FTS5's averages record cannot be read: FTS5 ranks");
  fts_rows_ = int64_t(v);
  for (int col = 0; off < n && col < kFtsColumns; ++col) {
    size_t used = GetVarint(p + off, n - off, &v);
    if (used == 0) return Status::Unavailable("FTS5's averages record cannot be read: FTS5 ranks");
    fts_tokens_ += int64_t(v);
    off += used;
  }
  return Status::OK();
}

// ---------------------------------------------------------------- Terms

std::string_view KeywordIndex::Terms::Term(uint32_t id) const {
  const uint32_t start = id ? ends_[id - 1] : 0;
  return std::string_view(bytes_.data() + start, ends_[id] - start);
}

size_t KeywordIndex::Terms::Slot(std::string_view term) const {
  const size_t mask = slots_.size() - 1;
  size_t i = std::hash<std::string_view>()(term) & mask;
  while (slots_[i] != 0 && Term(slots_[i] - 1) != term) i = (i + 1) & mask;
  return i;
}

int64_t KeywordIndex::Terms::Find(std::string_view term) const {
  if (slots_.empty()) return -1;
  return int64_t(slots_[Slot(term)]) - 1;
}

uint32_t KeywordIndex::Terms::Add(std::string_view term, bool* added) {
  if ((size() + 1) * 2 > slots_.size()) Rehash(std::max<size_t>(1024, slots_.size() * 2));
  const size_t i = Slot(term);
  *added = slots_[i] == 0;
  if (!*added) return slots_[i] - 1;
  const uint32_t id = uint32_t(size());
  bytes_.append(term.data(), term.size());
  ends_.push_back(uint32_t(bytes_.size()));
  slots_[i] = id + 1;
  return id;
}

void KeywordIndex::Terms::Rehash(size_t slots) {
  slots_.reset();
  slots_.resize(slots);
  for (uint32_t id = 0; id < size(); ++id) slots_[Slot(Term(id))] = id + 1;
}

// ---------------------------------------------------------------- KeywordIndex: rows and postings

namespace {

void PutVarint(uint32_t v, MappedArray<uint8_t>* out) {
  while (v >= 0x80) {
    out->push_back(uint8_t(v | 0x80));
    v >>= 7;
  }
  out->push_back(uint8_t(v));
}

size_t VarintBytes(uint32_t v) {
  size_t n = 1;
  for (; v >= 0x80; v >>= 7) ++n;
  return n;
}

uint8_t* PutVarintAt(uint32_t v, uint8_t* p) {
  for (; v >= 0x80; v >>= 7) *p++ = uint8_t(v | 0x80);
  *p++ = uint8_t(v);
  return p;
}

const uint8_t* GetVarint32(const uint8_t* p, uint32_t* v) {
  uint32_t x = 0;
  for (int shift = 0;; shift += 7) {
    const uint8_t byte = *p++;
    x |= uint32_t(byte & 0x7f) << shift;
    if (!(byte & 0x80)) break;
  }
  *v = x;
  return p;
}

}  // namespace

void KeywordIndex::CountToken(void* p, std::string_view token) {
  auto* row = static_cast<RowCount*>(p);
  KeywordIndex* idx = row->index;
  bool added = false;
  const uint32_t t = idx->terms_.Add(token, &added);
  if (added) {
    idx->holding_.push_back(0);
    idx->row_freq_.push_back(0);
  }
  PutVarint(t, &idx->streams_);
  ++row->tokens;
}

template <typename Fn>
void KeywordIndex::ForTerms(uint32_t doc, Fn fn) {
  const Doc& d = docs_[doc];
  const uint8_t* p = streams_.data() + d.stream;
  row_terms_.clear();
  for (int c = 0; c < kFtsColumns - 1; ++c) {
    const uint32_t weight = uint32_t(kColumnWeights[c + 1]);
    for (uint32_t i = 0; i < d.columns[c]; ++i) {
      uint32_t t;
      p = GetVarint32(p, &t);
      if (row_freq_[t] == 0) row_terms_.push_back(t);  // every indexed column weighs > 0
      row_freq_[t] += weight;
    }
  }
  for (uint32_t t : row_terms_) {
    fn(t, row_freq_[t]);
    row_freq_[t] = 0;
  }
}

void KeywordIndex::Decode(uint32_t doc, std::vector<uint32_t>* ids) const {
  const Doc& d = docs_[doc];
  ids->resize(d.length);
  const uint8_t* p = streams_.data() + d.stream;
  for (uint32_t& t : *ids) p = GetVarint32(p, &t);
}

template <typename Fn>
void KeywordIndex::ForPostings(uint32_t term, Fn fn) const {
  if (term + 1 < pool_start_.size()) {
    const uint8_t* p = pool_.data() + pool_start_[term];
    const uint8_t* end = pool_.data() + pool_start_[term + 1];
    Posting posting{0, 0};
    uint32_t gap = 0;
    for (uint32_t next = 0; p < end; next = posting.doc + 1) {
      p = GetVarint32(p, &gap);
      p = GetVarint32(p, &posting.freq);
      posting.doc = next + gap - 1;
      fn(posting);
    }
  }
  auto it = added_.find(term);
  if (it != added_.end())
    for (const Posting& p : it->second) fn(p);
}

Status KeywordIndex::AddRow(const FtsTokenizer& tok, int64_t rowid, const std::string& sizes,
                            const std::string* cols) {
  uint32_t stored[kFtsColumns];
  if (!DecodeSizes(sizes, stored) || stored[0] != 0)
    return Status::Unavailable("FTS5 row " + std::to_string(rowid) + " has no readable size: FTS5 ranks");
  if (streams_.size() > UINT32_MAX / 2 || docs_.size() >= UINT32_MAX)
    return Status::Unavailable("the keyword table is too large to hold in memory: FTS5 ranks");
  const uint32_t doc = uint32_t(docs_.size());
  Doc d{rowid, uint32_t(streams_.size()), 0, {}, 1};
  RowCount row{this, 0};
  Status s;
  for (int c = 1; s.ok() && c < kFtsColumns; ++c) {
    const uint32_t before = row.tokens;
    s = tok.Tokenize(cols[c - 1], false, CountToken, &row);
    if (s.ok() && row.tokens - before != stored[c])
      s = Status::Unavailable("FTS5 row " + std::to_string(rowid) + " stores other sizes than its tokens: FTS5 ranks");
    d.columns[c - 1] = stored[c];
    d.length += stored[c];
  }
  if (!s.ok()) {
    streams_.resize(d.stream);
    return s;
  }
  docs_.push_back(d);
  Place(doc);
  ForTerms(doc, [&](uint32_t t, uint32_t freq) {
    ++holding_[t];
    if (sealed_) added_[t].push_back(Posting{doc, freq});
  });
  ++live_rows_;
  live_tokens_ += d.length;
  return Status::OK();
}

Status KeywordIndex::Seal() {
  const size_t terms = terms_.size();
  // Two passes over the rows: each term's bytes, then the postings.
  MappedArray<uint32_t> last;  // by term: its previous posting's doc + 1 (0: none yet)
  last.resize(terms);
  MappedArray<uint64_t> bytes;
  bytes.resize(terms);
  for (uint32_t doc = 0; doc < docs_.size(); ++doc)
    ForTerms(doc, [&](uint32_t t, uint32_t freq) {
      bytes[t] += VarintBytes(doc + 1 - last[t]) + VarintBytes(freq);
      last[t] = doc + 1;
    });
  pool_start_.resize(terms + 1);
  uint64_t total = 0;
  for (size_t t = 0; t < terms; ++t) {
    pool_start_[t] = uint32_t(total);
    total += bytes[t];
  }
  if (total > UINT32_MAX) return Status::Unavailable("the keyword table is too large to hold in memory: FTS5 ranks");
  pool_start_[terms] = uint32_t(total);
  pool_.resize(total);
  bytes.reset();
  // An empty table has no terms and `last` no pages: memset(nullptr, 0, 0)
  // is undefined.
  if (terms) std::memset(last.data(), 0, terms * sizeof(uint32_t));
  MappedArray<uint32_t> next;  // by term: where its next posting goes
  next.append(pool_start_.data(), terms);
  for (uint32_t doc = 0; doc < docs_.size(); ++doc)
    ForTerms(doc, [&](uint32_t t, uint32_t freq) {
      uint8_t* p = pool_.data() + next[t];
      p = PutVarintAt(doc + 1 - last[t], p);
      p = PutVarintAt(freq, p);
      next[t] = uint32_t(p - pool_.data());
      last[t] = doc + 1;
    });
  sealed_ = true;
  pooled_docs_ = docs_.size();
  return Status::OK();
}

void KeywordIndex::Place(uint32_t doc) {
  const int64_t rowid = docs_[doc].rowid;
  if (sorted_docs_ == doc && (doc == 0 || rowid > docs_[doc - 1].rowid)) ++sorted_docs_;
  else later_[rowid] = doc;
}

int64_t KeywordIndex::DocOf(int64_t rowid) const {
  auto it = later_.find(rowid);
  if (it != later_.end()) return it->second;
  const Doc* end = docs_.data() + sorted_docs_;
  const Doc* d = std::lower_bound(docs_.data(), end, rowid, [](const Doc& x, int64_t r) { return x.rowid < r; });
  return d != end && d->rowid == rowid && d->live ? d - docs_.data() : -1;
}

void KeywordIndex::RemoveRow(int64_t rowid) {
  const int64_t found = DocOf(rowid);
  if (found < 0) return;
  const uint32_t doc = uint32_t(found);
  later_.erase(rowid);
  // The newest row's postings are last: dropped at once (an update of
  // what was just added); older ones stay, skipped as dead.
  ForTerms(doc, [&](uint32_t t, uint32_t) {
    --holding_[t];
    auto it = added_.find(t);
    if (it == added_.end() || it->second.back().doc != doc) return;
    it->second.pop_back();
    if (it->second.empty()) added_.erase(it);
  });
  docs_[doc].live = 0;
  --live_rows_;
  live_tokens_ -= docs_[doc].length;
  // The newest row, not in the pool: nothing refers to it any more.
  if (doc + 1 == docs_.size() && doc >= pooled_docs_) {
    streams_.resize(docs_[doc].stream);
    docs_.pop_back();
    sorted_docs_ = std::min(sorted_docs_, docs_.size());
  }
}

Status KeywordIndex::Refresh(sqlite3* db, const FtsTokenizer& tok, const std::vector<int64_t>& rowids) {
  Stmt st(db, std::string(kRowsSql) + " WHERE c.id = ?");
  Status s = st.status("reading keyword rows");
  for (size_t i = 0; s.ok() && i < rowids.size(); ++i) {
    RemoveRow(rowids[i]);
    st.Reset();
    st.Bind(1, rowids[i]);
    int rc = st.Step();
    if (rc == SQLITE_ROW) {
      const std::string cols[3] = {st.Text(2), st.Text(3), st.Text(4)};
      s = AddRow(tok, rowids[i], BlobOf(st, 1), cols);
    } else if (rc != SQLITE_DONE) {
      s = st.Done(rc, "reading keyword rows");
    }
  }
  if (s.ok()) s = ReadVersion(db, &version_);
  if (s.ok()) s = ReadTotals();
  if (s.ok() && (live_rows_ != size_t(fts_rows_) || live_tokens_ != fts_tokens_))
    s = Status::Unavailable("the keyword index is out of step with FTS5's totals");
  return s;
}

bool KeywordIndex::Ids(const std::vector<std::string>& phrase, std::vector<uint32_t>* ids) const {
  ids->clear();
  for (const std::string& token : phrase) {
    const int64_t id = terms_.Find(token);
    if (id < 0) return false;
    ids->push_back(uint32_t(id));
  }
  return !ids->empty();
}

uint32_t KeywordIndex::PhraseFreq(uint32_t doc, const std::vector<uint32_t>& ids,
                                  std::vector<uint32_t>* tokens) const {
  Decode(doc, tokens);
  const uint32_t* at = tokens->data();
  const size_t k = ids.size();
  uint32_t freq = 0;
  for (int c = 0; c < kFtsColumns - 1; ++c) {
    const size_t n = docs_[doc].columns[c];
    for (size_t p = 0; p + k <= n; ++p)
      if (std::equal(ids.begin(), ids.end(), at + p)) freq += uint32_t(kColumnWeights[c + 1]);
    at += n;
  }
  return freq;
}

void KeywordIndex::PhraseHits(const std::vector<std::string>& phrase, std::vector<Posting>* hits) const {
  hits->clear();
  std::vector<uint32_t> ids;
  if (!Ids(phrase, &ids)) return;
  if (ids.size() == 1) {
    ForPostings(ids[0], [&](const Posting& p) {
      if (docs_[p.doc].live) hits->push_back(p);
    });
    return;
  }
  // Rows holding the rarest token, matched position by position.
  uint32_t rarest = ids[0];
  for (uint32_t id : ids)
    if (holding_[id] < holding_[rarest]) rarest = id;
  std::vector<uint32_t> tokens;
  ForPostings(rarest, [&](const Posting& p) {
    if (!docs_[p.doc].live) return;
    const uint32_t f = PhraseFreq(p.doc, ids, &tokens);
    if (f) hits->push_back(Posting{p.doc, f});
  });
}

int64_t KeywordIndex::Holding(const std::vector<std::string>& phrase) const {
  if (phrase.size() == 1) {
    const int64_t id = terms_.Find(phrase[0]);
    return id < 0 ? 0 : int64_t(holding_[size_t(id)]);
  }
  std::vector<Posting> hits;
  PhraseHits(phrase, &hits);
  return int64_t(hits.size());
}

size_t KeywordIndex::MemoryBytes() const {
  size_t n = terms_.MemoryBytes() + holding_.MemoryBytes() + row_freq_.MemoryBytes() +
             row_terms_.capacity() * sizeof(uint32_t) + docs_.MemoryBytes() + streams_.MemoryBytes() +
             pool_.MemoryBytes() + pool_start_.MemoryBytes() + score_.capacity() * sizeof(double);
  // Hash nodes and buckets, roughly.
  for (const auto& [term, postings] : added_) n += 64 + postings.capacity() * sizeof(Posting);
  return n + later_.size() * 32 + (added_.bucket_count() + later_.bucket_count()) * sizeof(void*);
}

void KeywordIndex::Rank(const std::vector<std::vector<std::string>>& phrases, int64_t cap,
                        std::vector<std::pair<int64_t, double>>* rows) const {
  rows->clear();
  if (fts_rows_ <= 0 || cap <= 0) return;
  // fts5_aux.c's bm25(), phrase by phrase: the same operations, in its
  // order, so every score is FTS5's to the bit. A phrase absent from a row
  // adds +0.0 there, which changes no sum, so only its hits are visited.
  const double k1 = 1.2;
  const double b = 0.75;
  const double avgdl = (double)fts_tokens_ / (double)fts_rows_;
  // Scores by doc, all +0.0 between calls (the ones touched are reset).
  std::vector<double>& score = score_;
  if (score.size() < docs_.size()) score.resize(docs_.size(), 0.0);
  std::vector<uint32_t> touched;
  std::vector<Posting> hits;
  for (const auto& phrase : phrases) {
    PhraseHits(phrase, &hits);
    const int64_t nHit = int64_t(hits.size());
    double idf = std::log((fts_rows_ - nHit + 0.5) / (nHit + 0.5));
    if (idf <= 0.0) idf = 1e-6;
    for (const Posting& p : hits) {
      const double f = (double)p.freq;
      const double D = (double)docs_[p.doc].length;
      if (score[p.doc] == 0.0) touched.push_back(p.doc);
      score[p.doc] += idf * ((f * (k1 + 1.0)) / (f + k1 * (1 - b + b * D / avgdl)));
    }
  }
  auto better = [&](uint32_t x, uint32_t y) {
    return score[x] != score[y] ? score[x] > score[y] : docs_[x].rowid < docs_[y].rowid;
  };
  const size_t n = std::min(touched.size(), size_t(cap));
  std::partial_sort(touched.begin(), touched.begin() + long(n), touched.end(), better);
  rows->reserve(n);
  for (size_t i = 0; i < n; ++i) rows->emplace_back(docs_[touched[i]].rowid, -1.0 * score[touched[i]]);
  for (uint32_t doc : touched) score[doc] = 0.0;
}

// ---------------------------------------------------------------- LiveKeywordIndex

Status LiveKeywordIndex::Open(sqlite3* db, const std::string& path, std::unique_ptr<LiveKeywordIndex>* out) {
  std::unique_ptr<LiveKeywordIndex> live(new LiveKeywordIndex());
  live->db_ = db;
  live->path_ = path;
  Status s = FtsTokenizer::Open(db, &live->tok_);
  if (!s.ok()) return s;
  sqlite3_update_hook(db, &LiveKeywordIndex::OnUpdate, live.get());
  live->StartBuild();
  *out = std::move(live);
  return Status::OK();
}

LiveKeywordIndex::~LiveKeywordIndex() {
  stop_ = true;
  if (builder_.joinable()) builder_.join();
  if (db_) sqlite3_update_hook(db_, nullptr, nullptr);
}

void LiveKeywordIndex::OnUpdate(void* p, int /*op*/, const char* db, const char* table, sqlite3_int64 rowid) {
  auto* self = static_cast<LiveKeywordIndex*>(p);
  if (std::strcmp(table, "entries_fts_docsize") != 0 || std::strcmp(db, "main") != 0) return;
  if (self->dirty_.size() >= kMaxRefreshRows) self->dirty_overflow_ = true;
  else self->dirty_.insert(rowid);
}

// A build costs ~1.5 s of CPU at 100K rows. Another process writing every
// few seconds while an agent searched kept a core rebuilding (hostile test:
// 13.9 s of CPU in 30 s at one write per 3 s, against 0.2 s for the binary
// without the index). So the next build waits nine times as long as the last
// one took, after it ended (at most a tenth of a core); FTS5 answers
// meanwhile, as it does during any build, and the next search asks again.
void LiveKeywordIndex::StartBuild() {
  std::lock_guard<std::mutex> l(mu_);
  if (building_ || stop_ || std::chrono::steady_clock::now() < next_build_) return;
  if (builder_.joinable()) builder_.join();  // finished: building_ is false
  // What this connection writes from now on is read again into the build
  // (CatchUpBuilt); what it wrote before is in the build's snapshot.
  if (!sqlite::DataVersion(db_, &build_start_data_version_).ok()) build_start_data_version_ = -1;
  dirty_.clear();
  dirty_overflow_ = false;
  building_ = true;
  stats_.building = true;
  builder_ = std::thread([this] { BuildLoop(); });
}

void LiveKeywordIndex::BuildLoop() {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<KeywordIndex> idx;
  sqlite3* db = nullptr;
  Status s;
  if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    s = sqlite::ToStatus(db, sqlite3_errcode(db), "opening " + path_ + " to build the keyword index");
  } else {
    sqlite3_busy_timeout(db, 5000);
    std::unique_ptr<FtsTokenizer> tok;
    s = FtsTokenizer::Open(db, &tok);
    if (s.ok()) s = KeywordIndex::Build(db, *tok, &stop_, &idx);
  }
  sqlite3_close_v2(db);
  std::lock_guard<std::mutex> l(mu_);
  built_ = std::move(idx);
  build_status_ = s;
  building_ = false;
  stats_.building = false;
  if (s.ok()) ++stats_.builds;
  else stats_.last_error = s.ToString();
  const auto end = std::chrono::steady_clock::now();
  stats_.last_build_ms = std::chrono::duration<double, std::milli>(end - start).count();
  next_build_ = end + 9 * (end - start);
}

void LiveKeywordIndex::InstallBuilt(sqlite3* db) {
  std::unique_ptr<KeywordIndex> built;
  Status status;
  {
    std::lock_guard<std::mutex> l(mu_);
    if (building_ || (!built_ && build_status_.ok())) return;
    built = std::move(built_);
    status = build_status_;
    build_status_ = Status::OK();
  }
  FtsVersion v;
  int64_t dv = 0;
  if (!ReadVersion(db, &v).ok() || !sqlite::DataVersion(db, &dv).ok()) return;
  if (!built) {
    // A table we do not reproduce (or cannot read) stays FTS5's until the
    // schema changes; a lock held too long is tried again on a later search.
    if (status.code() != Code::kBusy) unsupported_schema_ = v.schema_version;
    return;
  }
  if (built->version() == v || CatchUpBuilt(db, built.get(), v, dv)) {
    index_ = std::move(built);
    synced_data_version_ = dv;
    dirty_.clear();
    dirty_overflow_ = false;
  }
}

// A server writing faster than a build lasts (a write every ~50 ms, a build
// of 50K entries ~0.7 s) threw every build away, each finding the table
// changed by the writes made meanwhile: its keyword searches all went to
// FTS5, and the builds took a core (3,000-request soak at 50K: 0 of 100
// searches answered by the index, 11 builds).
bool LiveKeywordIndex::CatchUpBuilt(sqlite3* db, KeywordIndex* built, const FtsVersion& now, int64_t dv) {
  if (dv != build_start_data_version_ || build_start_data_version_ < 0 || dirty_overflow_ ||
      now.schema_version != built->version().schema_version)
    return false;
  std::vector<int64_t> rows(dirty_.begin(), dirty_.end());
  return built->Refresh(db, *tok_, rows).ok() && built->version() == now;
}

const KeywordIndex* LiveKeywordIndex::Sync(sqlite3* db) {
  InstallBuilt(db);
  FtsVersion v;
  int64_t dv = 0;
  if (!ReadVersion(db, &v).ok() || !sqlite::DataVersion(db, &dv).ok()) return nullptr;
  if (!index_) {
    if (v.schema_version != unsupported_schema_) StartBuild();
    return nullptr;
  }
  if (v == index_->version()) {
    dirty_.clear();
    dirty_overflow_ = false;
    synced_data_version_ = dv;
    return index_.get();
  }
  // Only this connection wrote since the index was in step: read again
  // what it wrote. Rows removed leave dead postings; past as many dead rows
  // as live ones the index is built anew.
  if (v.schema_version == index_->version().schema_version && dv == synced_data_version_ && !dirty_overflow_ &&
      index_->dead_rows() <= std::max<size_t>(1024, index_->live_rows())) {
    std::vector<int64_t> rows(dirty_.begin(), dirty_.end());
    dirty_.clear();
    if (index_->Refresh(db, *tok_, rows).ok() && index_->version() == v) return index_.get();
  }
  index_.reset();
  dirty_.clear();
  dirty_overflow_ = false;
  StartBuild();
  return nullptr;
}

void LiveKeywordIndex::BeforeWrite(sqlite3* db) {
  write_open_ = Sync(db) != nullptr;
}

void LiveKeywordIndex::AfterWrite(sqlite3* db, bool committed) {
  if (!write_open_) return;
  write_open_ = false;
  (void)committed;  // a rolled-back write leaves its rows as they were: reading them again is harmless
  sqlite::ReadSnapshot snapshot(db);
  FtsVersion v;
  int64_t dv = 0;
  if (!index_ || !ReadVersion(db, &v).ok() || !sqlite::DataVersion(db, &dv).ok()) return;
  // Another connection committed since our write took the lock: the next
  // search decides (and builds again if the keyword table moved).
  if (dv != synced_data_version_) return;
  if (!dirty_overflow_) {
    std::vector<int64_t> rows(dirty_.begin(), dirty_.end());
    dirty_.clear();
    if (index_->Refresh(db, *tok_, rows).ok() && index_->version() == v) return;
  }
  index_.reset();
  dirty_.clear();
  dirty_overflow_ = false;
  StartBuild();
}

const KeywordIndex* LiveKeywordIndex::Current(sqlite3* db) {
  const KeywordIndex* idx = Sync(db);
  std::lock_guard<std::mutex> l(mu_);
  ++(idx ? stats_.answered : stats_.fell_back);
  return idx;
}

void LiveKeywordIndex::Release() {
  index_.reset();
  dirty_.clear();
  dirty_overflow_ = false;
  std::lock_guard<std::mutex> l(mu_);
  built_.reset();
}

LiveKeywordIndex::Stats LiveKeywordIndex::stats() {
  std::lock_guard<std::mutex> l(mu_);
  Stats st = stats_;
  st.ready = index_ != nullptr;
  st.memory_bytes = index_ ? index_->MemoryBytes() : 0;
  return st;
}

}  // namespace rekall::store
