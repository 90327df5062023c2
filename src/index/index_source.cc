#include "index/index_source.h"

#include <algorithm>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>

#include "index/simd.h"
#include "util/our_embeddings.h"

namespace rekall::index_internal {

static_assert(std::endian::native == std::endian::little,
              "embeddings.vector is float32 little-endian; add a byte swap for big-endian hosts");

const char* const kSourceJoin = "embeddings em JOIN entries e ON e.id = em.entry_id";

std::string SourceWhere() { return OurModelSql("em", EmbeddingType::kSummary); }

Status CheckVector(const float* v, int dim, int expected, const char* what) {
  if (v == nullptr) return Status::InvalidArgument(std::string(what) + " is null");
  if (dim != expected) {
    return Status::InvalidArgument(std::string(what) + " has " + std::to_string(dim) +
                                   " dimensions, the index holds " + std::to_string(expected));
  }
  for (int i = 0; i < dim; ++i) {
    if (!std::isfinite(v[i])) return Status::InvalidArgument(std::string(what) + " holds NaN or infinity");
  }
  return Status::OK();
}

void Normalize(float* v, int dim) {
  double ss = 0;
  for (int i = 0; i < dim; ++i) ss += double(v[i]) * v[i];
  if (ss <= 0) return;
  const float inv = float(1.0 / std::sqrt(ss));
  for (int i = 0; i < dim; ++i) v[i] *= inv;
}

bool ToUnit(const void* src, int dim, float* out) {
  std::memmove(out, src, sizeof(float) * dim);
  for (int i = 0; i < dim; ++i) {
    if (!std::isfinite(out[i])) return false;
  }
  Normalize(out, dim);
  return true;
}

namespace {

// The row query, with an optional extra condition on `em` (binding ?1).
std::string SourceRowSql(const std::string& also) {
  // Tags travel as one string joined by the unit separator, which no tag holds.
  return std::string("SELECT em.entry_id, em.vector, e.type, e.project, e.status,"
                     " (SELECT group_concat(t.tag, char(31)) FROM tags t WHERE t.entry_id = em.entry_id),"
                     " em.rowid, e.rowid"
                     " FROM ") +
         kSourceJoin + " WHERE " + SourceWhere() + also;
}

// Steps `st` (a SourceRowSql query) to its end, decoding each row into `row`
// (whose vector lands in `buf`) and handing it to fn. Rows of another
// size are counted in *skip.
Status DecodeSourceRows(sqlite::Stmt& st, int dim, const std::function<Status(const SourceRow&)>& fn,
                        std::vector<float>& buf, SourceRow& row, size_t* skip) {
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    const void* blob = st.Blob(1);
    const int bytes = st.Bytes(1);
    if (blob == nullptr || bytes != dim * int(sizeof(float))) {
      ++*skip;
      continue;
    }
    std::memcpy(buf.data(), blob, bytes);
    // Assigned in place: a fresh std::string per row was one allocation
    // per entry (ids are longer than the small-string buffer).
    const unsigned char* id = sqlite3_column_text(st.get(), 0);
    const size_t id_len = size_t(st.Bytes(0));
    row.entry_id.assign(id ? reinterpret_cast<const char*>(id) : "", id ? id_len : 0);
    row.vec = buf.data();
    row.rowids = SourceRowids{st.Int(6), st.Int(7)};
    row.meta.type = st.Text(2);
    row.meta.project = st.Text(3);
    row.meta.status = st.IsNull(4) ? "active" : st.Text(4);
    row.meta.tags.clear();
    const std::string tags = st.Text(5);
    size_t b = 0;
    while (b < tags.size()) {
      size_t e = tags.find('\x1f', b);
      if (e == std::string::npos) e = tags.size();
      row.meta.tags.push_back(tags.substr(b, e - b));
      b = e + 1;
    }
    Status s = fn(row);
    if (!s.ok()) return s;
  }
  return st.Done(rc, "reading embeddings");
}

}  // namespace

namespace {

// An entry's metadata and where it lives, for the load's hash join.
struct EntryRow {
  EntryMeta meta;
  int64_t rowid = 0;
};
using EntryRows = std::unordered_map<std::string, EntryRow>;

// Text column `col` into *out, reusing its buffer ("" for NULL).
void AssignText(const sqlite::Stmt& st, int col, std::string* out) {
  const unsigned char* t = sqlite3_column_text(st.get(), col);
  const size_t n = size_t(st.Bytes(col));
  out->assign(t ? reinterpret_cast<const char*>(t) : "", t ? n : 0);
}

// Every entry's metadata, then every tag: two sequential scans.
Status ReadEntryRows(sqlite3* db, EntryRows* out) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, "SELECT id, type, project, status, rowid FROM entries");
  if (!s.ok()) return s;
  std::string id;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    AssignText(st, 0, &id);
    EntryRow& r = (*out)[id];
    AssignText(st, 1, &r.meta.type);
    AssignText(st, 2, &r.meta.project);
    if (st.IsNull(3)) r.meta.status = "active";
    else AssignText(st, 3, &r.meta.status);
    r.rowid = st.Int(4);
  }
  if (!(s = st.Done(rc, "reading entries")).ok()) return s;
  if (!(s = st.Prepare(db, "SELECT entry_id, tag FROM tags")).ok()) return s;
  while ((rc = st.Step()) == SQLITE_ROW) {
    AssignText(st, 0, &id);
    auto it = out->find(id);
    if (it != out->end()) it->second.meta.tags.push_back(st.Text(1));
  }
  return st.Done(rc, "reading tags");
}

}  // namespace

// Three sequential scans joined in memory: the SQL join (a b-tree search
// into entries and one into tags per embedding) took twice as long at
// 100K entries (bench/index/RESULTS.md).
Status ForEachSourceRow(sqlite3* db, int dim, const std::function<Status(const SourceRow&)>& fn,
                        size_t* skipped) {
  EntryRows entries;
  Status s = ReadEntryRows(db, &entries);
  sqlite::Stmt st;
  if (s.ok()) s = st.Prepare(db, "SELECT em.entry_id, em.vector, em.rowid FROM embeddings em WHERE " + SourceWhere());
  if (!s.ok()) return s;
  SourceRow row;
  size_t skip = 0;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    AssignText(st, 0, &row.entry_id);
    auto it = entries.find(row.entry_id);
    if (it == entries.end()) continue;  // an orphan of a deleted entry
    if (st.Bytes(1) != dim * int(sizeof(float)) || st.Blob(1) == nullptr) {
      ++skip;
      continue;
    }
    row.vec = st.Blob(1);
    row.meta = it->second.meta;  // reuses row's buffers
    row.rowids = SourceRowids{st.Int(2), it->second.rowid};
    if (!(s = fn(row)).ok()) return s;
  }
  if (!(s = st.Done(rc, "reading embeddings")).ok()) return s;
  if (skipped) *skipped = skip;
  return Status::OK();
}

Status ForEachSourceRowOf(sqlite3* db, int dim, const std::vector<std::string>& ids,
                          const std::function<Status(const SourceRow&)>& fn) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, SourceRowSql(" AND em.entry_id = ?1"));
  std::vector<float> buf(dim);
  SourceRow row;
  size_t skip = 0;
  for (size_t i = 0; s.ok() && i < ids.size(); ++i) {
    st.Reset();
    st.Bind(1, ids[i]);
    s = DecodeSourceRows(st, dim, fn, buf, row, &skip);
  }
  return s;
}

bool SourceScorer::Score(const void* blob, int bytes, float* s) {
  if (blob == nullptr || bytes != int(sizeof(float)) * dim_) return false;
  if (!ToUnit(blob, dim_, row_.data())) return false;  // the padding stays zero
  simd::Best().dot_rows(q_.data(), row_.data(), q_.size(), 1, s);
  return true;
}

Status EntryCheck::Passes(const std::string& id, bool* pass) {
  *pass = false;
  Status s = Prepare(&entry_,
                     "SELECT coalesce(type, ''), coalesce(project, ''), coalesce(status, 'active')"
                     " FROM entries WHERE id = ?1");
  if (!s.ok()) return s;
  entry_.Bind(1, id);
  const int rc = entry_.Step();
  if (rc != SQLITE_ROW) return entry_.Done(rc, "reading entries");  // none: an orphan embedding
  const bool meta = (!f_.type || entry_.Text(0) == *f_.type) && (!f_.project || entry_.Text(1) == *f_.project) &&
                    (!f_.status || entry_.Text(2) == *f_.status);
  if (!meta || f_.tags.empty()) {
    *pass = meta;
    return Status::OK();
  }
  if (!(s = Prepare(&tags_, "SELECT tag FROM tags WHERE entry_id = ?1")).ok()) return s;
  tags_.Bind(1, id);
  std::vector<std::string> have;
  int trc;
  while ((trc = tags_.Step()) == SQLITE_ROW) have.push_back(tags_.Text(0));
  std::sort(have.begin(), have.end());
  *pass = std::all_of(f_.tags.begin(), f_.tags.end(),
                      [&](const std::string& t) { return std::binary_search(have.begin(), have.end(), t); });
  return tags_.Done(trc, "reading tags");
}

Status EntryCheck::Prepare(sqlite::Stmt* st, const char* sql) {
  if (st->prepared()) {
    st->Reset();
    return Status::OK();
  }
  return st->Prepare(db_, sql);
}

namespace {

// Offers a row to `top`, a heap of the `keep` best rows so far in HitBefore
// order (the worst on top); the id is copied only when the row gets in.
void OfferRow(std::vector<Hit>* top, size_t keep, float score, const sqlite::Stmt& st, int id_col) {
  if (top->size() == keep) {
    const Hit& worst = top->front();
    if (score < worst.score) return;
    if (score == worst.score) {
      const char* id = reinterpret_cast<const char*>(sqlite3_column_text(st.get(), id_col));
      if (!(std::string_view(id ? id : "", size_t(st.Bytes(id_col))) < worst.entry_id)) return;
    }
    std::pop_heap(top->begin(), top->end(), HitBefore);
    top->back() = Hit{st.Text(id_col), score};
  } else {
    top->push_back(Hit{st.Text(id_col), score});
  }
  std::push_heap(top->begin(), top->end(), HitBefore);
}

// The `keep` best summary embeddings of our model by exact score, their
// entries not read, in HitBefore order; *every_row when no scored row was
// left out. One sequential scan of the embeddings table.
Status TopOfEmbeddings(sqlite3* db, int dim, const std::vector<float>& q, size_t keep, std::vector<Hit>* top,
                       bool* every_row) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, "SELECT em.entry_id, em.vector FROM embeddings em WHERE " + SourceWhere());
  if (!s.ok()) return s;
  SourceScorer scorer(q, dim);
  top->clear();
  top->reserve(std::min<size_t>(keep, 4096) + 1);  // NearestFiltered may ask for millions
  size_t scored = 0;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    float score;
    if (!scorer.Score(st.Blob(1), st.Bytes(1), &score)) continue;
    ++scored;
    OfferRow(top, keep, score, st, 0);
  }
  if (!(s = st.Done(rc, "scanning embeddings")).ok()) return s;
  std::sort_heap(top->begin(), top->end(), HitBefore);
  *every_row = scored <= keep;
  return Status::OK();
}

// ExactSourceSearch over the join of every row with its entry (and, for a
// tag filter, driven by the tags table).
Status JoinedExactSearch(sqlite3* db, int dim, const std::vector<float>& q, int k, const Filter& f,
                         std::vector<Hit>* out) {
  std::vector<std::string> tags = f.tags;
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  std::string sql = std::string("SELECT em.entry_id, em.vector FROM ") + kSourceJoin + " WHERE " + SourceWhere();
  std::vector<const std::string*> binds;
  if (!tags.empty()) {
    // Driven through the (entry_id, embedding_type) index when selective.
    sql += " AND em.entry_id IN (SELECT entry_id FROM tags WHERE tag IN (";
    for (size_t i = 0; i < tags.size(); ++i) {
      sql += i ? ",?" : "?";
      binds.push_back(&tags[i]);
    }
    sql += ") GROUP BY entry_id HAVING count(DISTINCT tag) = " + std::to_string(tags.size()) + ")";
  }
  auto cond = [&](const std::optional<std::string>& val, const char* expr) {
    if (!val) return;
    sql += std::string(" AND ") + expr + " = ?";
    binds.push_back(&*val);
  };
  cond(f.type, "coalesce(e.type, '')");
  cond(f.project, "coalesce(e.project, '')");
  cond(f.status, "coalesce(e.status, 'active')");
  sqlite::Stmt st;
  Status s = st.Prepare(db, sql);
  if (!s.ok()) return s;
  for (size_t i = 0; i < binds.size(); ++i) st.Bind(int(i + 1), *binds[i]);
  SourceScorer scorer(q, dim);
  out->clear();
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    float score;
    if (scorer.Score(st.Blob(1), st.Bytes(1), &score)) OfferRow(out, size_t(k), score, st, 0);
  }
  if (!(s = st.Done(rc, "scanning embeddings")).ok()) return s;
  std::sort_heap(out->begin(), out->end(), HitBefore);
  return Status::OK();
}

}  // namespace

Status ExactSourceSearch(sqlite3* db, int dim, const std::vector<float>& q, int k, const Filter& f,
                         std::vector<Hit>* out) {
  out->clear();
  if (k <= 0) return Status::OK();
  if (f.tags.empty()) {
    // The best rows whatever their entries: the k best passing `f` are the
    // first k of them that pass, when that many do. Every search filters
    // (on status = active at least), rarely finely: 4k + 64 candidates
    // leave room for a type filter (1 entry in 6) and for orphans.
    const size_t keep = 4 * size_t(k) + 64;
    std::vector<Hit> top;
    bool every_row = false;
    Status s = TopOfEmbeddings(db, dim, q, keep, &top, &every_row);
    if (!s.ok()) return s;
    EntryCheck check(db, f);
    for (Hit& h : top) {
      bool pass = false;
      if (!(s = check.Passes(h.entry_id, &pass)).ok()) return s;
      if (pass) out->push_back(std::move(h));
      if (out->size() == size_t(k)) return Status::OK();
    }
    if (every_row) return Status::OK();
    out->clear();
  }
  // A tag filter (often selective), or a filter too fine for the candidates.
  return JoinedExactSearch(db, dim, q, k, f, out);
}

Status CountSourceRows(sqlite3* db, int dim, size_t* n) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, std::string("SELECT count(*) FROM ") + kSourceJoin + " WHERE " + SourceWhere() +
                                " AND length(em.vector) = " + std::to_string(sizeof(float) * size_t(dim)));
  if (s.ok()) s = st.StepRow("counting index rows");
  if (s.ok()) *n = size_t(st.Int(0));
  return s;
}

Status CountSummaryRows(sqlite3* db, int64_t* n) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, "SELECT count(*) FROM embeddings WHERE " + EmbeddingTypeSql("", EmbeddingType::kSummary));
  if (s.ok()) s = st.StepRow("counting summary embeddings");
  if (s.ok()) *n = st.Int(0);
  return s;
}

namespace {

// Whether Rekall's keyword table exists: its update trigger gives an entry
// whose title or content is set a new keyword row, with a higher rowid.
Status HasFts(sqlite3* db, bool* has) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'entries_fts'");
  if (s.ok()) s = st.StepRow("schema");
  if (s.ok()) *has = st.Int(0) == 1;
  return s;
}

// Rows above was.max_rowid, and whether they account for all the growth
// of the count: if not, some row that existed is gone.
Status RowsAbove(sqlite3* db, const char* table, const TableMark& was, const TableMark& now, bool* kept) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, std::string("SELECT count(*) FROM ") + table + " WHERE rowid > ?1");
  if (!s.ok()) return s;
  st.Bind(1, was.max_rowid);
  if (!(s = st.StepRow(table)).ok()) return s;
  *kept = now.count == was.count + st.Int(0);
  return Status::OK();
}

}  // namespace

Status ReadSourceMarks(sqlite3* db, SourceMarks* m) {
  bool fts = false;
  Status s = HasFts(db, &fts);
  if (!s.ok()) return s;
  // Each subquery but the last is a b-tree edge or count: about 1 ms at
  // 100K entries. max(updated_at) scans the entries (no index): ~30 ms.
  sqlite::Stmt st;
  s = st.Prepare(db, std::string("SELECT (SELECT schema_version FROM pragma_schema_version),") +
                         " (SELECT coalesce(max(rowid), 0) FROM embeddings), (SELECT count(*) FROM embeddings),"
                         " (SELECT coalesce(max(rowid), 0) FROM entries), (SELECT count(*) FROM entries),"
                         " (SELECT coalesce(max(rowid), 0) FROM tags), (SELECT count(*) FROM tags), " +
                         (fts ? "(SELECT coalesce(max(rowid), 0) FROM entries_fts)," : "-1,") +
                         " (SELECT coalesce(max(updated_at), '') FROM entries)");
  if (s.ok()) s = st.StepRow("source marks");
  if (!s.ok()) return s;
  m->schema_version = st.Int(0);
  m->embeddings = TableMark{st.Int(1), st.Int(2)};
  m->entries = TableMark{st.Int(3), st.Int(4)};
  m->tags = TableMark{st.Int(5), st.Int(6)};
  m->fts_max_rowid = st.Int(7);
  m->max_updated = st.Text(8);
  return Status::OK();
}

// "marks1" and nine integers (the last: the length of max_updated), each
// after a space, then ':', max_updated and the tail.
constexpr const char* kMarksVersion = "marks1";

std::string SerializeMarks(const SourceMarks& m, const std::string& tail) {
  std::string s = kMarksVersion;
  for (int64_t v : {m.schema_version, m.embeddings.max_rowid, m.embeddings.count, m.entries.max_rowid,
                    m.entries.count, m.tags.max_rowid, m.tags.count, m.fts_max_rowid, int64_t(m.max_updated.size())}) {
    s += ' ';
    s += std::to_string(v);
  }
  s += ':';
  s += m.max_updated;
  s += tail;
  return s;
}

bool ParseMarks(const std::string& text, SourceMarks* m, std::string* tail) {
  const size_t head = std::strlen(kMarksVersion);
  if (text.compare(0, head, kMarksVersion) != 0) return false;
  const char* p = text.c_str() + head;
  int64_t v[9];
  for (int64_t& x : v) {
    if (*p != ' ' || !(std::isdigit(static_cast<unsigned char>(p[1])) || p[1] == '-')) return false;
    char* end = nullptr;
    x = std::strtoll(p + 1, &end, 10);
    p = end;
  }
  const size_t at = size_t(p - text.c_str());
  if (*p != ':' || v[8] < 0 || uint64_t(v[8]) > text.size() - at - 1) return false;
  m->schema_version = v[0];
  m->embeddings = TableMark{v[1], v[2]};
  m->entries = TableMark{v[3], v[4]};
  m->tags = TableMark{v[5], v[6]};
  m->fts_max_rowid = v[7];
  m->max_updated = text.substr(at + 1, size_t(v[8]));
  *tail = text.substr(at + 1 + size_t(v[8]));
  return true;
}

namespace {

// Appends to *ids the first column of every row of `sql`, whose ?1..?5 are
// the marks: embeddings, entries and tags max rowids, FTS max rowid, updated_at.
Status AppendIds(sqlite3* db, const std::string& sql, const SourceMarks& was, std::vector<std::string>* ids) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, sql);
  if (!s.ok()) return s;
  for (int i = 1; i <= sqlite3_bind_parameter_count(st.get()); ++i) {
    switch (i) {
      case 1: st.Bind(1, was.embeddings.max_rowid); break;
      case 2: st.Bind(2, was.entries.max_rowid); break;
      case 3: st.Bind(3, was.tags.max_rowid); break;
      case 4: st.Bind(4, was.fts_max_rowid); break;
      default: st.Bind(5, was.max_updated);
    }
  }
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) ids->push_back(st.Text(0));
  return st.Done(rc, "reading changed entries");
}

// Entries updated in place since `was`, as a query ("" when none can be).
std::string EditedSql(const SourceMarks& was, const SourceMarks& now) {
  std::string sql;
  if (now.fts_max_rowid >= 0) sql = "SELECT id FROM entries_fts WHERE rowid >= ?4";
  // updated_at has no index: scanned only when its maximum moved.
  if (now.max_updated != was.max_updated)
    sql += std::string(sql.empty() ? "" : " UNION ") + "SELECT id FROM entries WHERE updated_at > ?5";
  return sql;
}

}  // namespace

Status FindSourceChanges(sqlite3* db, const SourceMarks& was, const SourceMarks& now, SourceChanges* out) {
  *out = SourceChanges();
  // A schema change or VACUUM (it may renumber rowids), or the keyword
  // table appearing or going.
  if (now.schema_version != was.schema_version || (now.fts_max_rowid < 0) != (was.fts_max_rowid < 0)) {
    out->provable = false;
    return Status::OK();
  }
  bool em_kept = false, en_kept = false, tag_kept = false;
  Status s = RowsAbove(db, "embeddings", was.embeddings, now.embeddings, &em_kept);
  if (s.ok()) s = RowsAbove(db, "entries", was.entries, now.entries, &en_kept);
  if (s.ok()) s = RowsAbove(db, "tags", was.tags, now.tags, &tag_kept);
  if (!s.ok()) return s;
  out->rows_gone = !em_kept || !en_kept;
  // An entry updated in place moves its updated_at (Rekall's writes and
  // ours), and when its title or content is set (our store's updates set
  // every column) it gets a new keyword row, even with an older updated_at
  // (an import's replace). A vector our store rewrites in place is read
  // again with its entry.
  const std::string edited = EditedSql(was, now);
  if (!edited.empty() && !(s = AppendIds(db, edited, was, &out->touched)).ok()) return s;
  // A tag row removed with no entry updated or deleted is a pattern no
  // writer we know uses: not provable.
  const bool updated = now.max_updated != was.max_updated || now.fts_max_rowid > was.fts_max_rowid;
  if (!tag_kept && !updated && !out->rows_gone) {
    out->provable = false;
    return Status::OK();
  }
  // New rows (a vector or an entry replaced by delete + insert or INSERT
  // OR REPLACE gets a new rowid), and the row at each old maximum in case it
  // was deleted and its rowid reused.
  s = AppendIds(db,
                "SELECT entry_id FROM embeddings WHERE rowid >= ?1"
                " UNION SELECT id FROM entries WHERE rowid >= ?2"
                " UNION SELECT entry_id FROM tags WHERE rowid >= ?3",
                was, &out->touched);
  if (!s.ok()) return s;
  std::sort(out->touched.begin(), out->touched.end());
  out->touched.erase(std::unique(out->touched.begin(), out->touched.end()), out->touched.end());
  return Status::OK();
}

Status IdsAboveRowids(sqlite3* db, int64_t embedding, int64_t entry, std::vector<std::string>* ids) {
  sqlite::Stmt st;
  Status s = st.Prepare(db, "SELECT entry_id FROM embeddings WHERE rowid > ?1 UNION SELECT id FROM entries WHERE rowid > ?2");
  if (!s.ok()) return s;
  st.Bind(1, embedding);
  st.Bind(2, entry);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) ids->push_back(st.Text(0));
  return st.Done(rc, "reading rows written since");
}

Status ReadRowids(sqlite3* db, const char* table, std::vector<int64_t>* sorted) {
  sorted->clear();
  sqlite::Stmt st;
  // Read from the table's smallest index (rowids only), then sorted.
  Status s = st.Prepare(db, std::string("SELECT rowid FROM ") + table);
  if (!s.ok()) return s;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) sorted->push_back(st.Int(0));
  std::sort(sorted->begin(), sorted->end());
  return st.Done(rc, table);
}

}  // namespace rekall::index_internal
