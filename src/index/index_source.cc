#include "index/index_source.h"

#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>

namespace rekall::index_internal {

static_assert(std::endian::native == std::endian::little,
              "embeddings.vector is float32 little-endian; add a byte swap for big-endian hosts");

const char* const kSourceJoin = "embeddings em JOIN entries e ON e.id = em.entry_id";
const char* const kSourceWhere =
    "em.embedding_type = 'summary'"
    " AND em.model_name IN ('sentence-transformers/all-MiniLM-L6-v2', 'all-MiniLM-L6-v2')";

Status Stmt::Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_finalize(s_);
  s_ = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &s_, nullptr) != SQLITE_OK) {
    return SqlError(db, "prepare: " + sql);
  }
  return Status::OK();
}

Status SqlError(sqlite3* db, const std::string& what) {
  int rc = sqlite3_errcode(db);
  std::string m = what + ": " + sqlite3_errmsg(db);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::Busy(m);
  if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB) return Status::Corruption(m);
  if (rc == SQLITE_IOERR || rc == SQLITE_FULL || rc == SQLITE_READONLY || rc == SQLITE_CANTOPEN) {
    return Status::IOError(m);
  }
  return Status::Internal(m);
}

Status Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string m = err ? err : "?";
    sqlite3_free(err);
    int rc = sqlite3_errcode(db);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) return Status::Busy(sql + ": " + m);
    return Status::Internal(sql + ": " + m);
  }
  return Status::OK();
}

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

static std::string ColText(sqlite3_stmt* s, int i, const char* dflt) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, i)) : dflt;
}

Status ForEachSourceRow(sqlite3* db, int dim, const std::function<Status(const SourceRow&)>& fn,
                        size_t* skipped) {
  // Tags travel as one string joined by the unit separator, which no tag holds.
  Stmt st;
  Status s = st.Prepare(db,
      std::string("SELECT em.entry_id, em.vector, e.type, e.project, e.status,"
                  " (SELECT group_concat(t.tag, char(31)) FROM tags t WHERE t.entry_id = em.entry_id)"
                  " FROM ") + kSourceJoin + " WHERE " + kSourceWhere);
  if (!s.ok()) return s;
  std::vector<float> buf(dim);
  SourceRow row;
  size_t skip = 0;
  int rc;
  while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
    const void* blob = sqlite3_column_blob(st.get(), 1);
    const int bytes = sqlite3_column_bytes(st.get(), 1);
    if (blob == nullptr || bytes != dim * int(sizeof(float))) {
      ++skip;
      continue;
    }
    std::memcpy(buf.data(), blob, bytes);
    row.entry_id = ColText(st.get(), 0, "");
    row.vec = buf.data();
    row.meta.type = ColText(st.get(), 2, "");
    row.meta.project = ColText(st.get(), 3, "");
    row.meta.status = ColText(st.get(), 4, "active");
    row.meta.tags.clear();
    std::string tags = ColText(st.get(), 5, "");
    size_t b = 0;
    while (b < tags.size()) {
      size_t e = tags.find('\x1f', b);
      if (e == std::string::npos) e = tags.size();
      row.meta.tags.push_back(tags.substr(b, e - b));
      b = e + 1;
    }
    s = fn(row);
    if (!s.ok()) return s;
  }
  if (rc != SQLITE_DONE) return SqlError(db, "reading embeddings");
  if (skipped) *skipped = skip;
  return Status::OK();
}

Status DataVersion(sqlite3* db, int64_t* v) {
  Stmt st;
  Status s = st.Prepare(db, "PRAGMA data_version");
  if (!s.ok()) return s;
  if (sqlite3_step(st.get()) != SQLITE_ROW) return SqlError(db, "PRAGMA data_version");
  *v = sqlite3_column_int64(st.get(), 0);
  return Status::OK();
}

std::string SourceFingerprint(sqlite3* db) {
  Stmt st;
  Status s = st.Prepare(db,
      "SELECT (SELECT count(*) FROM embeddings WHERE embedding_type = 'summary'),"
      " (SELECT coalesce(max(rowid), 0) FROM embeddings),"
      " (SELECT count(*) FROM entries),"
      // A delete plus an insert by another program (Rekall itself) keeps the
      // counts: the sum of rowids still moves.
      " (SELECT total(rowid) FROM entries),"
      " (SELECT total(rowid) FROM embeddings),"
      " (SELECT coalesce(max(updated_at), '') FROM entries),"
      " (SELECT count(*) FROM tags),"
      " (SELECT coalesce(max(rowid), 0) FROM tags)");
  if (s.ok() && sqlite3_step(st.get()) == SQLITE_ROW) {
    std::string fp;
    for (int i = 0; i < 8; ++i) fp += ColText(st.get(), i, "") + "|";
    return fp;
  }
  static std::atomic<uint64_t> unique{0};
  return "unknown:" + std::to_string(++unique);
}

}  // namespace rekall::index_internal
