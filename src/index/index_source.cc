#include "index/index_source.h"

#include <atomic>
#include <bit>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstring>

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

Status ForEachSourceRow(sqlite3* db, int dim, const std::function<Status(const SourceRow&)>& fn,
                        size_t* skipped) {
  // Tags travel as one string joined by the unit separator, which no tag holds.
  sqlite::Stmt st;
  Status s = st.Prepare(db,
      std::string("SELECT em.entry_id, em.vector, e.type, e.project, e.status,"
                  " (SELECT group_concat(t.tag, char(31)) FROM tags t WHERE t.entry_id = em.entry_id)"
                  " FROM ") + kSourceJoin + " WHERE " + SourceWhere());
  if (!s.ok()) return s;
  std::vector<float> buf(dim);
  SourceRow row;
  size_t skip = 0;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    const void* blob = st.Blob(1);
    const int bytes = st.Bytes(1);
    if (blob == nullptr || bytes != dim * int(sizeof(float))) {
      ++skip;
      continue;
    }
    std::memcpy(buf.data(), blob, bytes);
    row.entry_id = st.Text(0);
    row.vec = buf.data();
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
    s = fn(row);
    if (!s.ok()) return s;
  }
  s = st.Done(rc, "reading embeddings");
  if (!s.ok()) return s;
  if (skipped) *skipped = skip;
  return Status::OK();
}

std::string SourceFingerprint(sqlite3* db) {
  sqlite::Stmt st;
  Status s = st.Prepare(db,
      "SELECT (SELECT count(*) FROM embeddings WHERE " + EmbeddingTypeSql("", EmbeddingType::kSummary) + "),"
      " (SELECT coalesce(max(rowid), 0) FROM embeddings),"
      " (SELECT count(*) FROM entries),"
      // A delete plus an insert by another program (Rekall itself) keeps the
      // counts: the sum of rowids still moves.
      " (SELECT total(rowid) FROM entries),"
      " (SELECT total(rowid) FROM embeddings),"
      " (SELECT coalesce(max(updated_at), '') FROM entries),"
      " (SELECT count(*) FROM tags),"
      " (SELECT coalesce(max(rowid), 0) FROM tags)");
  if (s.ok() && st.Step() == SQLITE_ROW) {
    std::string fp;
    for (int i = 0; i < 8; ++i) fp += st.Text(i) + "|";
    return fp;
  }
  static std::atomic<uint64_t> unique{0};
  return "unknown:" + std::to_string(++unique);
}

int64_t FingerprintSummaryRows(const std::string& fp) {
  if (fp.empty() || !std::isdigit(static_cast<unsigned char>(fp[0]))) return -1;
  return std::strtoll(fp.c_str(), nullptr, 10);
}

}  // namespace rekall::index_internal
