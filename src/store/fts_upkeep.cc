// The keyword index (Rekall's FTS5 table entries_fts) kept in step with
// `entries`. Rekall's triggers do it: entries_ai indexes a new entry,
// entries_au re-indexes an updated one, entries_ad drops a deleted one. The
// last two find the entry's FTS row by `id`, a column FTS5 does not index:
// each scans the whole FTS table, 4 ms a row at 10K entries and 34 ms at 50K
// (bench/soak/RESULTS.md). What is here keeps the FTS table exactly as
// entries_au and entries_ad would leave it, and spares our own updates and
// deletes their scans.
#include <cctype>

#include "store/filter_sql.h"
#include "store/schema.h"
#include "store/store.h"

namespace rekall::store {

namespace {

using sqlite::Stmt;

const std::string kWideUpdate = "AFTER UPDATE ON entries";
const std::string kNarrowUpdate = "AFTER UPDATE OF title, content ON entries";

// `sql` with every run of white space made one space, none at the ends:
// the same statement written with other line breaks or indentation.
std::string SingleSpaced(const std::string& sql) {
  std::string out;
  for (char c : sql) {
    if (!std::isspace(static_cast<unsigned char>(c))) out += c;
    else if (!out.empty() && out.back() != ' ') out += ' ';
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// Whether trigger `name` on `entries`, as SQLite keeps it, is Rekall's
// (entries_au either as Rekall writes it or narrowed by us).
bool IsRekallTrigger(const std::string& name, const std::string& sql) {
  std::string want = RekallTriggerSql(name);
  if (want.empty()) return false;
  if (SingleSpaced(sql) == SingleSpaced(want)) return true;
  const size_t at = want.find(kWideUpdate);
  if (name != "entries_au" || at == std::string::npos) return false;
  return SingleSpaced(sql) == SingleSpaced(want.replace(at, kWideUpdate.size(), kNarrowUpdate));
}

// The column names of `table`, in order.
std::vector<std::string> Columns(sqlite3* db, const std::string& table) {
  std::vector<std::string> cols;
  Stmt st(db, "SELECT name FROM pragma_table_info(?1)");
  st.Bind(1, table);
  while (st.Step() == SQLITE_ROW) cols.push_back(st.Text(0));
  return cols;
}

}  // namespace

// Rekall's entries_au trigger re-indexes an entry's FTS row on every UPDATE
// of its row. Recording reads (access_count, last_accessed: every result of
// every search) paid its scan for text that did not change. Fired only when
// the title or content is set, it indexes exactly the same text: Rekall's
// own updates set every column, and tags reach the row through IndexTags.
// Rekall creates its triggers IF NOT EXISTS, so it keeps this one.
// Lossless, so no backup.
Status Store::NarrowFtsUpdateTrigger() {
  if (schema_.read_only) return Status::OK();
  Stmt st(db_, "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = 'entries_au'");
  if (!st.status("reading triggers").ok() || st.Step() != SQLITE_ROW) return Status::OK();
  std::string sql = st.Text(0);
  st.Finalize();
  size_t at = sql.find(kWideUpdate);
  if (at == std::string::npos) return Status::OK();  // narrowed already, or not Rekall's
  sql.replace(at, kWideUpdate.size(), kNarrowUpdate);
  return WithTransaction([&]() -> Status {
    Status t = sqlite::Exec(db_, "DROP TRIGGER entries_au", "narrowing the keyword index trigger");
    return t.ok() ? sqlite::Exec(db_, sql, "narrowing the keyword index trigger") : t;
  });
}

// Our UPDATEs may leave entries_au out and do its work (ReindexFtsRow) only
// when that work is all that an UPDATE of `entries` sets off: the triggers
// on `entries` are Rekall's three and no other (a user's own trigger would
// be silenced too), entries_au among them, and entries_fts is Rekall's FTS5
// table, its rows in entries_fts_content with the entry's id in column c0.
// The index on c0 is ours: SQLite keeps it up to date for every writer,
// Rekall included, and Rekall's code never names it. When it cannot be
// made, or an index of its name is not exactly it, Rekall's triggers stay
// (FtsIdIndexIsOurs): a lookup through anything else would scan.
//
// Our DELETE of an entry may likewise leave entries_ad out when, besides,
// no table has a trigger of its own: the statement runs with every trigger
// off, and the rows its foreign keys cascade to (links, sources...) must
// not skip a trigger either.
void Store::PrepareFtsUpkeep() {
  fts_upkeep_ = FtsUpkeepApplies(&fts_unindex_);
  // After the index it may have created: that is a schema change too.
  Stmt st(db_, "PRAGMA schema_version");
  fts_upkeep_schema_ = st.Step() == SQLITE_ROW ? st.Int(0) : -1;
}

bool internal::FtsIdIndexIsOurs(sqlite3* db) {
  Stmt list(db, "SELECT partial FROM pragma_index_list('entries_fts_content') WHERE name = ?");
  list.Bind(1, std::string(kFtsIdIndex));
  if (!list.status("").ok() || list.Step() != SQLITE_ROW || list.Int(0) != 0) return false;
  // The key columns: c0 alone, ascending or not, compared as bytes.
  Stmt cols(db, "SELECT name, coll FROM pragma_index_xinfo(?) WHERE key = 1");
  cols.Bind(1, std::string(kFtsIdIndex));
  if (!cols.status("").ok() || cols.Step() != SQLITE_ROW) return false;
  const bool c0 = cols.Text(0) == "c0" && cols.Text(1) == "BINARY";
  return c0 && cols.Step() == SQLITE_DONE;
}

bool Store::FtsUpkeepApplies(bool* deletes_too) {
  *deletes_too = false;
  if (schema_.read_only) return false;
  Stmt st(db_, "SELECT name, sql, tbl_name FROM sqlite_master WHERE type = 'trigger'");
  bool has_update_trigger = false, has_delete_trigger = false, others = false;
  while (st.Step() == SQLITE_ROW) {
    if (st.Text(2) != "entries") {
      others = true;
      continue;
    }
    if (!IsRekallTrigger(st.Text(0), st.Text(1))) return false;
    has_update_trigger = has_update_trigger || st.Text(0) == "entries_au";
    has_delete_trigger = has_delete_trigger || st.Text(0) == "entries_ad";
  }
  if (!has_update_trigger) return false;
  const std::vector<std::string> fts_cols = {"id", "title", "content", "tags"};
  const std::vector<std::string> content_cols = {"id", "c0", "c1", "c2", "c3"};
  if (Columns(db_, "entries_fts") != fts_cols || Columns(db_, "entries_fts_content") != content_cols) return false;
  sqlite::Exec(db_, std::string("CREATE INDEX IF NOT EXISTS ") + internal::kFtsIdIndex + " ON entries_fts_content(c0)",
               "indexing the keyword rows' entry ids");
  // Another index of that name, made by someone else, is kept by IF NOT
  // EXISTS: our lookups through it would scan; Rekall's triggers stay.
  if (!internal::FtsIdIndexIsOurs(db_)) return false;
  *deletes_too = has_delete_trigger && !others;
  return true;
}

// Another process may add, change or drop a trigger on `entries`, or the
// FTS table, while we run (a server decided once at its start, and then
// kept silencing a trigger a user added later: hostile test). Every such
// change moves the schema cookie; called inside the write transaction, so
// nobody changes the schema between this look and the UPDATE.
bool Store::FtsUpkeepHolds(FtsWrite write) {
  Stmt st(db_, "PRAGMA schema_version");
  if (st.Step() != SQLITE_ROW) return false;
  const int64_t now = st.Int(0);
  st.Finalize();
  if (now != fts_upkeep_schema_) PrepareFtsUpkeep();
  return write == FtsWrite::kUpdate ? fts_upkeep_ : fts_unindex_;
}

// entries_au's work for entry `id`, which an UPDATE has just rewritten with
// the trigger left out: `DELETE FROM entries_fts WHERE id = OLD.id`, every
// FTS row of the entry found through the index on c0; then the trigger's
// INSERT of NEW.id, NEW.title, NEW.content and the entry's tags as they are
// now (the new rowid is the same: the next after the largest left).
Status Store::ReindexFtsRow(const std::string& id) {
  Status s = UnindexFtsRows(id);
  if (!s.ok()) return s;
  Stmt ins(db_,
           "INSERT INTO entries_fts(id, title, content, tags) SELECT id, title, content, "
           "(SELECT GROUP_CONCAT(tag, ' ') FROM tags WHERE entry_id = ?1) FROM entries WHERE id = ?1");
  ins.Bind(1, id);
  return ins.Run("re-indexing entry " + id);
}

// entries_ad's work (and the first half of entries_au's): `DELETE FROM
// entries_fts WHERE id = OLD.id`, every FTS row of the entry found through
// the index on c0.
Status Store::UnindexFtsRows(const std::string& id) {
  std::vector<int64_t> rows;
  Stmt find(db_, "SELECT id FROM entries_fts_content WHERE c0 = ?1");
  find.Bind(1, id);
  int rc;
  while ((rc = find.Step()) == SQLITE_ROW) rows.push_back(find.Int(0));
  Status s = find.Done(rc, "finding the keyword rows of entry " + id);
  Stmt del(db_, "DELETE FROM entries_fts WHERE rowid = ?1");
  for (size_t i = 0; s.ok() && i < rows.size(); ++i) {
    del.Reset();
    del.Bind(1, rows[i]);
    s = del.Run("dropping the keyword rows of entry " + id);
  }
  return s;
}

Status Store::IndexTags(const std::string& id) {
  // Rekall's triggers index the entry before its tags exist; bring the FTS
  // row's tags column up to date so keyword search finds tags. The row the
  // trigger just wrote is the newest (a rowid lookup); matching on the
  // UNINDEXED id column instead scans the whole FTS table, which made every
  // add O(entries) and an import quadratic. The scan stays as the fallback
  // for a file whose triggers did not write that row.
  static constexpr const char* kSet = "UPDATE entries_fts SET tags = (SELECT GROUP_CONCAT(tag, ' ') FROM tags WHERE entry_id = ?1) ";
  Stmt newest(db_, std::string(kSet) +
                       "WHERE rowid = (SELECT rowid FROM entries_fts ORDER BY rowid DESC LIMIT 1) AND id = ?1");
  newest.Bind(1, id);
  Status s = newest.Run("indexing tags");
  if (!s.ok() || sqlite3_changes(db_) > 0) return s;
  Stmt scan(db_, std::string(kSet) + "WHERE id = ?1");
  scan.Bind(1, id);
  return scan.Run("indexing tags");
}

}  // namespace rekall::store
