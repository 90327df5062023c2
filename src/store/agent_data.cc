// Store: what Rekall's agents use beside entries, in Rekall's own tables
// and columns, so that Rekall reading the file sees it: links, the access
// bookkeeping of reads (its stale and review data), stale entries.
#include <cmath>

#include "store/rekall_context.h"
#include "store/store.h"
#include "util/ulid.h"

namespace rekall::store {

namespace {

using sqlite::Stmt;

bool TableHasColumn(sqlite3* db, const std::string& table, const std::string& column) {
  Stmt st(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
  st.Bind(1, table);
  st.Bind(2, column);
  return st.Step() == SQLITE_ROW;
}

Status NoLinksTable() {
  return Status::Unavailable("this database has no links table (an older Rekall schema); run `rekall migrate`");
}

// Rekall's consolidation score of an entry read `count` times, last
// `days` whole days before this read: frequency 60 %, freshness 40 %.
double ConsolidationScore(int64_t count, int64_t days) {
  double frequency = std::min(1.0, std::log(static_cast<double>(count) + 1.0) / 5.0);
  double freshness = std::exp(-static_cast<double>(days) / 30.0);
  return 0.6 * frequency + 0.4 * freshness;
}

Link ReadLink(const Stmt& st, bool with_reason) {
  Link l;
  l.id = st.Text(0);
  l.source_id = st.Text(1);
  l.target_id = st.Text(2);
  l.relation_type = st.Text(3);
  l.created_at = st.Text(4);
  if (with_reason && st.Type(5) != SQLITE_NULL) l.reason = st.Text(5);
  return l;
}

}  // namespace

Status Store::AddLink(Link* l) {
  if (!has_links_table_) return NoLinksTable();
  if (!IsRelationType(l->relation_type))
    return Status::InvalidArgument("invalid relation type '" + l->relation_type +
                                   "' (expected related, supersedes, derived_from or contradicts)");
  if (l->source_id == l->target_id) return Status::InvalidArgument("an entry cannot be linked to itself");
  if (l->reason && l->reason->size() > kMaxLinkReasonBytes)
    return Status::InvalidArgument("link reason too long (" + std::to_string(l->reason->size()) +
                                   " bytes; the limit is " + std::to_string(kMaxLinkReasonBytes) + ")");
  return WithTransaction([&]() -> Status {
    for (const std::string* id : {&l->source_id, &l->target_id}) {
      bool exists = false;
      Status s = Exists(*id, &exists);
      if (!s.ok()) return s;
      if (!exists) return Status::NotFound("no entry with id " + *id);
    }
    Stmt dup(db_, "SELECT 1 FROM links WHERE source_id = ?1 AND target_id = ?2 AND relation_type = ?3");
    dup.Bind(1, l->source_id);
    dup.Bind(2, l->target_id);
    dup.Bind(3, l->relation_type);
    if (dup.Step() == SQLITE_ROW)
      return Status::InvalidArgument("link already exists: " + l->source_id + " -> [" + l->relation_type + "] -> " +
                                     l->target_id);
    l->id = NewUlid();
    l->created_at = NowIsoLocal();
    bool with_reason = TableHasColumn(db_, "links", "reason");
    Stmt st(db_, with_reason ? "INSERT INTO links(id, source_id, target_id, relation_type, created_at, reason) "
                               "VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                             : "INSERT INTO links(id, source_id, target_id, relation_type, created_at) "
                               "VALUES (?1, ?2, ?3, ?4, ?5)");
    st.Bind(1, l->id);
    st.Bind(2, l->source_id);
    st.Bind(3, l->target_id);
    st.Bind(4, l->relation_type);
    st.Bind(5, l->created_at);
    if (with_reason) st.Bind(6, l->reason);
    return st.Run("adding a link");
  });
}

Status Store::RemoveLinks(const std::string& source, const std::string& target,
                          const std::optional<std::string>& type, int* removed) {
  *removed = 0;
  if (!has_links_table_) return NoLinksTable();
  return WithTransaction([&]() -> Status {
    Stmt st(db_, "DELETE FROM links WHERE source_id = ?1 AND target_id = ?2 AND (?3 IS NULL OR relation_type = ?3)");
    st.Bind(1, source);
    st.Bind(2, target);
    st.Bind(3, type);
    Status s = st.Run("removing links");
    if (s.ok()) *removed = sqlite3_changes(db_);
    return s;
  });
}

Status Store::LinksOf(const std::string& id, std::vector<Link>* out) {
  out->clear();
  if (!has_links_table_) return Status::OK();
  bool with_reason = TableHasColumn(db_, "links", "reason");
  Stmt st(db_, std::string("SELECT id, source_id, target_id, relation_type, created_at") +
                   (with_reason ? ", reason" : "") +
                   " FROM links WHERE source_id = ?1 OR target_id = ?1 ORDER BY created_at, id");
  st.Bind(1, id);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out->push_back(ReadLink(st, with_reason));
  return st.Done(rc, "reading links");
}

Status Store::CountLinks(size_t* n) {
  *n = 0;
  if (!has_links_table_) return Status::OK();
  Stmt st(db_, "SELECT COUNT(*) FROM links");
  Status s = st.StepRow("counting links");
  if (s.ok()) *n = static_cast<size_t>(st.Int(0));
  return s;
}

Status Store::RecordAccess(const std::vector<std::string>& ids) {
  if (ids.empty() || schema_.read_only || !unwritable_.ok()) return Status::OK();
  for (const char* c : {"access_count", "last_accessed", "consolidation_score"})
    if (!HasEntryColumn(c)) return Status::OK();
  std::string now = NowIsoLocal();
  // Bookkeeping, not the answer: while another process writes, skip it
  // rather than hold the search up for the whole busy timeout.
  sqlite3_busy_timeout(db_, kBookkeepingBusyMs);
  Status s = WithTransaction([&]() -> Status {
    for (const auto& id : ids) {
      // Whole days since the previous read, floored as Python's timedelta.days.
      Stmt get(db_, "SELECT COALESCE(access_count, 0), julianday(?2) - julianday(last_accessed) "
                    "FROM entries WHERE id = ?1");
      get.Bind(1, id);
      get.Bind(2, now);
      if (get.Step() != SQLITE_ROW) continue;  // deleted meanwhile
      int64_t count = get.Int(0) + 1;
      int64_t days = get.Type(1) == SQLITE_NULL ? 0 : static_cast<int64_t>(std::floor(get.Double(1)));
      Stmt up(db_, "UPDATE entries SET access_count = ?2, last_accessed = ?3, consolidation_score = ?4 WHERE id = ?1");
      up.Bind(1, id);
      up.Bind(2, count);
      up.Bind(3, now);
      up.BindDouble(4, ConsolidationScore(count, days));
      Status t = up.Run("recording a read");
      if (!t.ok()) return t;
    }
    return Status::OK();
  });
  sqlite3_busy_timeout(db_, busy_timeout_ms_);
  return s;
}

Status Store::StaleEntries(int days, int limit, std::vector<Entry>* out) {
  out->clear();
  if (!HasEntryColumn("last_accessed")) return Status::OK();
  // Rekall compares its naive local ISO timestamps as text.
  // Past ~1,900 years the cutoff precedes every date Rekall can write (and
  // the clock arithmetic would leave the calendar): only never-read entries.
  constexpr int kMaxDays = 700000;
  std::string cutoff = days > kMaxDays ? std::string("0000-01-01T00:00:00")
                                       : IsoLocal(std::chrono::system_clock::now() - std::chrono::hours(24) * days);
  Stmt st(db_, "SELECT id FROM entries WHERE status = 'active' AND (last_accessed IS NULL OR last_accessed < ?1) "
               "ORDER BY last_accessed ASC, id LIMIT ?2");
  st.Bind(1, cutoff);
  st.Bind(2, static_cast<int64_t>(limit));
  std::vector<std::string> ids;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) ids.push_back(st.Text(0));
  Status s = st.Done(rc, "finding stale entries");
  for (size_t i = 0; s.ok() && i < ids.size(); ++i) {
    Entry e;
    if ((s = Get(ids[i], &e)).ok()) out->push_back(std::move(e));
  }
  return s;
}

}  // namespace rekall::store

namespace rekall::store {

bool Store::HasTable(const std::string& name) const {
  sqlite::Stmt st(db_, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  st.Bind(1, name);
  return st.Step() == SQLITE_ROW;
}

Status Store::StoredContexts(const std::vector<std::string>& ids, std::vector<std::optional<std::string>>* out) {
  out->assign(ids.size(), std::nullopt);
  if (!HasEntryColumn("context_compressed")) return Status::OK();
  for (size_t i = 0; i < ids.size(); ++i) {
    sqlite::Stmt st(db_, "SELECT context_compressed FROM entries WHERE id = ?");
    st.Bind(1, ids[i]);
    int rc = st.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "reading contexts");
    if (rc != SQLITE_ROW || st.Type(0) == SQLITE_NULL) continue;
    std::string raw(static_cast<const char*>(st.Blob(0)), static_cast<size_t>(st.Bytes(0))), text;
    if (ZlibDecompress(raw, &text)) (*out)[i] = std::move(text);
  }
  return Status::OK();
}

Status Store::EntriesWithContext(int limit, std::vector<Entry>* out) {
  out->clear();
  if (!HasEntryColumn("context_structured")) return Status::OK();
  bool blob = HasEntryColumn("context_blob");
  sqlite::Stmt st(db_, std::string("SELECT id FROM entries WHERE context_structured IS NOT NULL") +
                           (blob ? " OR context_blob IS NOT NULL" : "") + " ORDER BY updated_at DESC LIMIT ?");
  st.Bind(1, static_cast<int64_t>(limit));
  std::vector<std::string> ids;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) ids.push_back(st.Text(0));
  Status s = st.Done(rc, "reading entries with a context");
  for (size_t i = 0; s.ok() && i < ids.size(); ++i) {
    Entry e;
    if ((s = Get(ids[i], &e)).ok()) out->push_back(std::move(e));
  }
  return s;
}

Status Store::PendingSuggestions(const std::optional<std::string>& type, int limit, std::vector<Suggestion>* out) {
  out->clear();
  if (!HasTable("suggestions")) return Status::OK();
  sqlite::Stmt st(db_, std::string("SELECT id, suggestion_type, entry_ids, COALESCE(reason, ''), score, created_at "
                                   "FROM suggestions WHERE status = 'pending'") +
                           (type ? " AND suggestion_type = ?2" : "") + " ORDER BY created_at DESC LIMIT ?1");
  st.Bind(1, static_cast<int64_t>(limit));
  if (type) st.Bind(2, *type);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    Suggestion g{st.Text(0), st.Text(1), {}, st.Text(3), st.Double(4), st.Text(5)};
    nlohmann::json ids = nlohmann::json::parse(st.Text(2), nullptr, false);  // a JSON list in Rekall
    if (ids.is_array())
      for (const auto& id : ids)
        if (id.is_string()) g.entry_ids.push_back(id.get<std::string>());
    out->push_back(std::move(g));
  }
  return st.Done(rc, "reading suggestions");
}

Status Store::ReadSources(const std::string& sql, const std::vector<std::string>& binds, int limit,
                          std::vector<Source>* out) {
  out->clear();
  if (!HasTable("sources")) return Status::OK();
  sqlite::Stmt st(db_, "SELECT DISTINCT s.id, s.domain, COALESCE(s.url_pattern, ''), COALESCE(s.personal_score, 0), "
                       "COALESCE(s.role, ''), COALESCE(s.status, 'active'), s.last_verified " + sql);
  int i = 1;
  for (const auto& b : binds) st.Bind(i++, b);
  st.Bind(i, static_cast<int64_t>(limit));
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    Source src{st.Text(0), st.Text(1), st.Text(2), st.Double(3), st.Text(4), st.Text(5), std::nullopt, {}};
    if (st.Type(6) != SQLITE_NULL) src.last_verified = st.Text(6);
    out->push_back(std::move(src));
  }
  Status s = st.Done(rc, "reading sources");
  bool themes = HasTable("source_themes");
  for (auto& src : *out) {
    if (!s.ok() || !themes) break;
    sqlite::Stmt th(db_, "SELECT theme FROM source_themes WHERE source_id = ? ORDER BY theme");
    th.Bind(1, src.id);
    while ((rc = th.Step()) == SQLITE_ROW) src.themes.push_back(th.Text(0));
    s = th.Done(rc, "reading source themes");
  }
  return s;
}

Status Store::SourcesWithThemes(const std::vector<std::string>& themes, int limit, std::vector<Source>* out) {
  out->clear();
  if (themes.empty() || !HasTable("source_themes")) return Status::OK();
  std::string in;
  for (size_t i = 0; i < themes.size(); ++i) in += i ? ", ?" : "?";
  return ReadSources("FROM sources s JOIN source_themes st ON st.source_id = s.id WHERE st.theme IN (" + in +
                         ") AND s.personal_score >= 0 ORDER BY s.personal_score DESC, s.id LIMIT ?",
                     themes, limit, out);
}

Status Store::SourcesToVerify(int limit, std::vector<Source>* out) {
  std::string cutoff = IsoLocal(std::chrono::system_clock::now() - std::chrono::hours(24));
  return ReadSources("FROM sources s WHERE s.domain IS NOT NULL AND s.domain != '' AND "
                     "(s.last_verified IS NULL OR s.last_verified < ?) "
                     "ORDER BY s.last_verified IS NOT NULL, s.last_verified, s.id LIMIT ?",
                     {cutoff}, limit, out);
}

}  // namespace rekall::store
