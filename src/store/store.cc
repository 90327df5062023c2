#include "store/store.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <optional>
#include <set>
#include <unordered_set>

#include "store/backup.h"
#include "store/filter_sql.h"
#include "store/migrate.h"
#include "store/rekall_context.h"
#include "store/rekall_values.h"
#include "store/schema.h"
#include "util/ulid.h"
#include "util/utf8.h"

namespace rekall::store {

namespace {

using sqlite::Stmt;

// Columns of `entries` that Entry holds as fields; the rest go to `extra`.
// In the order WriteEntryRow binds them (?1 to ?10).
constexpr const char* kCoreColumns[] = {"id",         "title",  "content",       "type",       "project",
                                        "confidence", "status", "superseded_by", "created_at", "updated_at"};

bool IsCoreColumn(const std::string& c) {
  return std::find(std::begin(kCoreColumns), std::end(kCoreColumns), c) != std::end(kCoreColumns);
}

const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string Base64Encode(const unsigned char* p, size_t n) {
  std::string out;
  out.reserve((n + 2) / 3 * 4);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = p[i] << 16;
    if (i + 1 < n) v |= p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < n ? kB64[(v >> 6) & 63] : '=';
    out += i + 2 < n ? kB64[v & 63] : '=';
  }
  return out;
}

bool Base64Decode(const std::string& s, std::string* out) {
  out->clear();
  uint32_t v = 0;
  int bits = 0;
  for (char c : s) {
    if (c == '=') break;
    const char* p = std::strchr(kB64, c);
    if (!p || c == '\0') return false;
    v = (v << 6) | static_cast<uint32_t>(p - kB64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((v >> bits) & 0xFF));
    }
  }
  return true;
}

// Reads one row of `SELECT * FROM entries` into an entry.
void ReadEntryRow(const Stmt& st, Entry* e) {
  e->extra = nlohmann::json::object();
  for (int i = 0; i < st.ColumnCount(); ++i) {
    const std::string col = st.ColumnName(i);
    const int t = st.Type(i);
    if (col == "id") e->id = st.Text(i);
    else if (col == "title") e->title = st.Text(i);
    else if (col == "content") e->content = st.Text(i);
    else if (col == "type") e->type = st.Text(i);
    else if (col == "project") e->project = st.OptText(i);
    else if (col == "confidence") e->confidence = static_cast<int>(st.Int(i));
    else if (col == "status") e->status = t == SQLITE_NULL ? "active" : st.Text(i);
    else if (col == "superseded_by") e->superseded_by = st.OptText(i);
    else if (col == "created_at") e->created_at = st.Text(i);
    else if (col == "updated_at") e->updated_at = st.Text(i);
    else {
      switch (t) {
        case SQLITE_NULL: e->extra[col] = nullptr; break;
        case SQLITE_INTEGER: e->extra[col] = st.Int(i); break;
        case SQLITE_FLOAT: e->extra[col] = st.Double(i); break;
        case SQLITE_BLOB:
          e->extra[col] = {{"base64", Base64Encode(static_cast<const unsigned char*>(st.Blob(i)), st.Bytes(i))}};
          break;
        default: e->extra[col] = st.Text(i);
      }
    }
  }
}

std::string DirOf(const std::string& path) {
  if (path.find('/') == std::string::npos) return ".";
  std::string dir = path.substr(0, path.rfind('/'));
  return dir.empty() ? "/" : dir;
}

// Opens the connection. `immutable`: read through a URI with immutable=1, so
// SQLite creates no -shm (nor anything else) beside the file.
Status OpenConnection(const std::string& path, bool read_only, bool immutable, sqlite3** db) {
  int flags = (read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE) | SQLITE_OPEN_FULLMUTEX;
  std::string name = path;
  if (immutable) {
    name = "file:";
    for (char c : path) {
      if (c == '%' || c == '?' || c == '#') name += c == '%' ? "%25" : c == '?' ? "%3f" : "%23";
      else name += c;
    }
    name += "?immutable=1";
    flags |= SQLITE_OPEN_URI;
  }
  int rc = sqlite3_open_v2(name.c_str(), db, flags, nullptr);
  if (rc == SQLITE_OK) return Status::OK();
  Status s = sqlite::ToStatus(*db, rc, "cannot open database " + path);
  sqlite3_close(*db);
  *db = nullptr;
  return s;
}

// Checks the file at `path` before SQLite opens it, creating it when
// missing and allowed; *exists tells whether it was there.
Status PrepareFile(const std::string& path, const OpenOptions& opts, bool* exists) {
  Env* env = opts.env;
  *exists = env->FileExists(path);
  if (*exists) {
    if (env->IsDirectory(path)) return Status::InvalidArgument("database path " + path + " is a directory");
    return Status::OK();
  }
  // A link whose target is gone: creating the file would fail on the link
  // itself ("File exists"); say what is wrong instead.
  if (env->IsSymlink(path))
    return Status::NotFound("database " + path + " is a symbolic link to a file that does not exist");
  if (!opts.create_if_missing || opts.read_only) return Status::NotFound("database " + path + " does not exist");
  const std::string dir = DirOf(path);
  if (env->IsRegularFile(dir))
    return Status::NotFound("cannot create database " + path + ": " + dir + " is a file, not a directory");
  if (!env->IsDirectory(dir))
    return Status::NotFound("cannot create database " + path + ": directory " + dir + " does not exist");
  // Knowledge is private: create the file 0600 ourselves; SQLite gives its
  // -wal and -shm files the same mode.
  Status s = env->CreateNewFile(path, 0600);
  if (!s.ok()) return Status::IOError("cannot create database " + s.message());
  return Status::OK();
}

}  // namespace

// A file that failed the check before our first write: opened read-only, so
// `doctor` and the reading commands still work; every write returns `damage`.
Status Store::OpenDamaged(const std::string& path, const OpenOptions& opts, const Status& damage,
                          std::unique_ptr<Store>* out) {
  OpenOptions ro = opts;
  ro.read_only = true;
  std::unique_ptr<Store> store;
  if (!Open(path, ro, &store).ok()) return damage;
  store->unwritable_ = damage;
  *out = std::move(store);
  return Status::OK();
}

Status Store::Open(const std::string& path, const OpenOptions& opts, std::unique_ptr<Store>* out) {
  if (path.empty()) return Status::InvalidArgument("empty database path");
  bool exists = false;
  Status s = PrepareFile(path, opts, &exists);
  if (!s.ok()) return s;
  // Writing needs the folder too: SQLite creates the -wal (or -journal) and
  // -shm beside the file. Without it nobody can write the file, so when no
  // -wal or -journal exists it is read as immutable (no -shm needed either).
  const std::string dir = DirOf(path);
  const bool dir_writable = opts.env->CanWrite(dir);
  const bool read_only = opts.read_only || !opts.env->CanWrite(path) || !dir_writable;
  const bool immutable =
      !dir_writable && !opts.env->FileExists(path + "-wal") && !opts.env->FileExists(path + "-journal");
  sqlite3* db = nullptr;
  if (!(s = OpenConnection(path, read_only, immutable, &db)).ok()) return s;
  std::unique_ptr<Store> store(new Store(db, path));
  store->env_ = opts.env;
  if (!dir_writable)
    store->unwritable_ = Status::IOError("directory " + dir + " is not writable: SQLite needs to create " + path +
                                         "-wal there to write to the database; nothing was changed");
  store->schema_.created = !exists;
  store->schema_.read_only = read_only;
  s = store->Init(opts);
  if (!s.ok()) {
    store.reset();
    // A file we created and could not initialise is removed, so a retry
    // starts clean; an existing file is never touched.
    if (!exists) opts.env->RemoveFile(path);
    if (s.code() == Code::kCorruption && exists && !read_only) return OpenDamaged(path, opts, s, out);
    return s;
  }
  *out = std::move(store);
  return Status::OK();
}

Store::~Store() {
  keyword_index_.reset();
  checkpointer_.reset();
  if (db_) sqlite3_close_v2(db_);
}

namespace {

// The names of the file's tables and views.
Status ReadTableNames(sqlite3* db, const std::string& where, std::set<std::string>* names) {
  names->clear();
  Stmt st(db, "SELECT name FROM sqlite_master WHERE type IN ('table','view')");
  Status s = st.status(where);
  if (!s.ok()) return s;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) names->insert(st.Text(0));
  return st.Done(rc, where);
}

}  // namespace

namespace {

// A long-running process (the server) learns what another process changed
// from the rows past its last look, and from entries.updated_at for entries
// updated in place; without an index each look scanned every entry for
// max(updated_at): 30-90 ms at 100K entries instead of about 4 ms for the
// whole catch-up of one added entry (bench/index/RESULTS.md). Best effort
// (a writable file): without it (read-only, a busy writer) the look scans.
// An index is no change to Rekall's tables: Rekall's code never sees it.
void IndexUpdatedAt(sqlite3* db) {
  Stmt st(db, "SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'rekall_engine_entries_updated_at'");
  if (!st.status("reading indexes").ok() || st.Step() == SQLITE_ROW) return;
  st.Finalize();
  sqlite::Exec(db, "CREATE INDEX IF NOT EXISTS rekall_engine_entries_updated_at ON entries(updated_at)",
               "indexing updated_at");
}

}  // namespace

Status Store::Init(const OpenOptions& opts) {
  busy_timeout_ms_ = opts.busy_timeout_ms;
  sqlite3_busy_timeout(db_, opts.busy_timeout_ms);
  sqlite3_extended_result_codes(db_, 1);
  const std::string where = "database " + path_;
  // Reading the schema is the first real read: a file that is not a
  // database, or a corrupt one, fails here before anything is written.
  std::set<std::string> tables;
  Status s = ReadTableNames(db_, where, &tables);
  if (!s.ok()) return s;
  if (!tables.empty() && !tables.count("entries"))
    return Status::InvalidArgument(where + " is a SQLite database but not a Rekall knowledge base (no `entries` table); it was not modified");
  if (!(s = BeforeFirstWrite(!tables.empty(), tables.count("rekall_engine_meta") > 0)).ok()) return s;
  if (!(s = ConfigureConnection(where)).ok()) return s;
  if (opts.background_checkpoint && !schema_.read_only &&
      !(s = sqlite::Checkpointer::Start(db_, path_, {}, &checkpointer_)).ok())
    return s;
  if (tables.empty() && !(s = CreateSchema(where)).ok()) return s;
  if (!(s = MigrateIfNeeded(opts)).ok()) return s;
  if (!(s = NarrowFtsUpdateTrigger()).ok()) return s;
  // After our indexes: creating one is a schema change, which would make
  // the first write decide again.
  if (!schema_.read_only) IndexUpdatedAt(db_);
  PrepareFtsUpkeep();
  // What the file holds now, created or migrated.
  if (!(s = ReadTableNames(db_, where, &tables)).ok()) return s;
  ReadBookkeeping(tables, where);
  return Status::OK();
}

Status Store::ConfigureConnection(const std::string& where) {
  Status s = sqlite::Exec(db_, "PRAGMA foreign_keys = ON", where);
  if (!s.ok() || schema_.read_only) return s;
  // WAL lets readers (an agent's server) run beside a writer (the CLI).
  s = sqlite::Exec(db_, "PRAGMA journal_mode = WAL", where);
  if (s.ok()) sqlite::Exec(db_, "PRAGMA synchronous = NORMAL", where);  // best effort
  return s;
}

Status Store::CreateSchema(const std::string& where) {
  if (schema_.read_only) return unwritable_.ok() ? Status::IOError(where + " is empty and read-only") : unwritable_;
  return WithTransaction([&]() -> Status {
    Status t = sqlite::Exec(db_, RekallSchemaV12(), "creating Rekall schema");
    if (!t.ok()) return t;
    t = sqlite::Exec(db_, ("PRAGMA user_version = " + std::to_string(kRekallUserVersion)), "setting user_version");
    if (!t.ok()) return t;
    t = sqlite::Exec(db_, EngineSchema(), "creating engine tables");
    if (!t.ok()) return t;
    return sqlite::Exec(db_,
                        "INSERT INTO rekall_engine_meta(key, value) VALUES('schema_version', '" +
                            std::to_string(kEngineSchemaVersion) + "')",
                        "recording engine schema version");
  });
}

// An existing Rekall file may lack what we need: migrate it, transparently,
// after a backup (read-only opens just report what is pending).
Status Store::MigrateIfNeeded(const OpenOptions& opts) {
  MigrationPlan plan;
  Status s = PlanMigration(db_, path_, &plan, opts.env);
  if (!s.ok()) return s;
  schema_.user_version = plan.user_version;
  if (!plan.needed()) return Status::OK();
  if (schema_.read_only || !opts.auto_migrate) {
    schema_.pending_migration = true;
    return Status::OK();
  }
  std::string backup;
  if (!(s = RunMigration(db_, plan, opts.migrate, &backup, opts.env)).ok()) return s;
  schema_.migrated = true;
  schema_.backup_path = backup;
  // Keep the newest few: a file that keeps being migrated (a Rekall that
  // drops our tables) must not fill the folder. Best effort.
  std::vector<std::string> pruned;
  if (!backup.empty()) (void)PruneAutomaticBackups(path_, "", &pruned);
  for (const auto& step : plan.steps) schema_.migration_steps.push_back(step.description);
  return Status::OK();
}

void Store::ReadBookkeeping(const std::set<std::string>& tables, const std::string& where) {
  schema_.has_embeddings_table = tables.count("embeddings") > 0;
  has_links_table_ = tables.count("links") > 0;
  has_context_keywords_table_ = tables.count("context_keywords") > 0;
  if (tables.count("rekall_engine_meta")) {
    Stmt st(db_, "SELECT value FROM rekall_engine_meta WHERE key = 'schema_version'");
    if (st.status(where).ok() && st.Step() == SQLITE_ROW) schema_.engine_version = std::stoi(st.Text(0));
  }
  Stmt cols(db_, "PRAGMA table_info(entries)");
  while (cols.Step() == SQLITE_ROW) entry_columns_.push_back(cols.Text(1));
}

Status Store::BeforeFirstWrite(bool has_any, bool has_engine) {
  if (schema_.read_only) return Status::OK();
  // A Rekall file we have not opened before (no table of ours yet; the WAL
  // switch, the migration and its backup come next) is checked first: a
  // damaged file is never written (Store::Open reopens it read-only). Once
  // per file, so the cost of reading it whole is not paid on every open.
  if (has_any && !has_engine) return QuickCheck("database " + path_);
  // An empty file someone else created becomes a knowledge base: private
  // like one we create (0600), before its -wal and -shm take its mode.
  if (!has_any && !schema_.created) return env_->ChangeMode(path_, 0600);
  return Status::OK();
}

Status Store::QuickCheck(const std::string& where) {
  Stmt st(db_, "PRAGMA quick_check(1)");
  Status s = st.status(where);
  int rc = s.ok() ? st.Step() : SQLITE_ERROR;
  std::string first = rc == SQLITE_ROW ? st.Text(0) : std::string(sqlite3_errmsg(db_));
  if (rc == SQLITE_ROW && first == "ok") return Status::OK();
  return Status::Corruption(where + " fails SQLite's quick_check (" + first +
                            "); it was not modified. Run `rekall doctor` for the details, then restore a backup or "
                            "recover the file (sqlite3 " + path_ + " .recover)");
}

Status Store::WithTransaction(const std::function<Status()>& fn) {
  if (txn_depth_ > 0) {
    ++txn_depth_;
    Status s = fn();
    --txn_depth_;
    return s;
  }
  if (!unwritable_.ok()) return unwritable_;
  if (schema_.read_only) return Status::IOError("database " + path_ + " is read-only; nothing was changed");
  Status s;
  {
    sqlite::Transaction txn;
    s = txn.Begin(db_, "starting a transaction");
    if (!s.ok()) return s;
    if (keyword_index_) keyword_index_->BeforeWrite(db_);
    txn_depth_ = 1;
    s = fn();
    txn_depth_ = 0;
    if (s.ok()) s = txn.Commit("committing");
  }  // rolled back here unless committed
  if (keyword_index_) keyword_index_->AfterWrite(db_, s.ok());
  return s;
}

namespace {

// INSERT of the core columns then `extra`, or UPDATE of the same by id (?1).
std::string EntryWriteSql(bool insert, const std::vector<std::string>& extra) {
  std::vector<std::string> cols(std::begin(kCoreColumns), std::end(kCoreColumns));
  cols.insert(cols.end(), extra.begin(), extra.end());
  std::string sql;
  if (insert) {
    std::string qs;
    for (size_t i = 0; i < cols.size(); ++i) {
      sql += (i ? "," : "") + cols[i];
      qs += i ? ",?" : "?";
    }
    return "INSERT INTO entries(" + sql + ") VALUES(" + qs + ")";
  }
  for (size_t i = 1; i < cols.size(); ++i) sql += (i > 1 ? "," : "") + cols[i] + "=?" + std::to_string(i + 1);
  return "UPDATE entries SET " + sql + " WHERE id=?1";
}

// Binds the JSON value of Rekall column `col` as SQLite stores it (a blob
// travels as {"base64": ...}, as ReadEntryRow gives it).
Status BindExtra(Stmt* st, int i, const std::string& col, const nlohmann::json& v) {
  if (v.is_null()) st->BindNull(i);
  else if (v.is_boolean()) st->Bind(i, static_cast<int64_t>(v.get<bool>()));
  else if (v.is_number_integer()) st->Bind(i, v.get<int64_t>());
  else if (v.is_number()) st->BindDouble(i, v.get<double>());
  else if (v.is_string()) st->Bind(i, v.get<std::string>());
  else if (v.is_object() && v.contains("base64") && v["base64"].is_string()) {
    std::string raw;
    if (!Base64Decode(v["base64"].get<std::string>(), &raw))
      return Status::InvalidArgument("field '" + col + "' holds invalid base64");
    st->BindBlob(i, raw.data(), raw.size());
  } else {
    return Status::InvalidArgument("field '" + col + "' has an unsupported value");
  }
  return Status::OK();
}

}  // namespace

Status Store::ExtraColumns(const Entry& e, std::vector<std::string>* extra) const {
  for (auto it = e.extra.begin(); it != e.extra.end(); ++it) {
    if (IsCoreColumn(it.key())) continue;
    if (std::find(entry_columns_.begin(), entry_columns_.end(), it.key()) == entry_columns_.end())
      return Status::InvalidArgument("entry " + e.id + " has a field '" + it.key() +
                                     "' that this database has no column for");
    extra->push_back(it.key());
  }
  return Status::OK();
}

Status Store::WriteEntryRow(const Entry& e, bool insert) {
  // Core columns always; Rekall's other columns only when the entry carries
  // them (an import of an export), so their defaults apply otherwise.
  std::vector<std::string> extra_cols;
  Status s = ExtraColumns(e, &extra_cols);
  if (!s.ok()) return s;
  // An UPDATE re-indexes the entry's keyword row. With fts_upkeep_ that is
  // ReindexFtsRow's work, and Rekall's trigger, which scans the FTS table
  // for the row, is left out of the statement (fts_upkeep.cc).
  const bool reindex = !insert && FtsUpkeepHolds(FtsWrite::kUpdate);
  std::optional<sqlite::TriggersOff> off;
  if (reindex) off.emplace(db_);
  Stmt st(db_, EntryWriteSql(insert, extra_cols));
  if (!(s = st.status("preparing entry write")).ok()) return s;
  st.Bind(1, e.id);
  st.Bind(2, e.title);
  st.Bind(3, e.content);
  st.Bind(4, e.type);
  st.Bind(5, e.project);
  st.Bind(6, static_cast<int64_t>(e.confidence));
  st.Bind(7, e.status);
  st.Bind(8, e.superseded_by);
  st.Bind(9, e.created_at);
  st.Bind(10, e.updated_at);
  for (size_t i = 0; i < extra_cols.size(); ++i) {
    s = BindExtra(&st, static_cast<int>(11 + i), extra_cols[i], e.extra[extra_cols[i]]);
    if (!s.ok()) return s;
  }
  const int rc = st.Step();
  off.reset();
  if (rc == SQLITE_CONSTRAINT_PRIMARYKEY && insert)
    return Status::InvalidArgument("an entry with id " + e.id + " already exists");
  if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) return Status::InvalidArgument("superseded_by names no existing entry");
  if (rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "writing entry " + e.id);
  if (!insert && sqlite3_changes(db_) == 0) return Status::NotFound("no entry with id " + e.id);
  return reindex ? ReindexFtsRow(e.id) : Status::OK();
}

Status Store::WriteTags(const Entry& e) {
  {
    Stmt del(db_, "DELETE FROM tags WHERE entry_id = ?");
    del.Bind(1, e.id);
    int rc = del.Step();
    if (rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "writing tags");
  }
  for (const auto& t : e.tags) {
    Stmt ins(db_, "INSERT OR IGNORE INTO tags(entry_id, tag) VALUES(?, ?)");
    ins.Bind(1, e.id);
    ins.Bind(2, t);
    int rc = ins.Step();
    if (rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "writing tags");
  }
  return IndexTags(e.id);
}

Status Store::NotifySummary(const Entry& e, const std::vector<float>* summary) {
  if (!observer_) return Status::OK();
  if (summary) return observer_->OnSummaryVector(e, summary->data(), static_cast<int>(summary->size()));
  // Filterable fields may have changed: hand the index the stored vector.
  if (!schema_.has_embeddings_table) return Status::OK();
  StoredEmbedding se;
  Status s = GetEmbedding(e.id, EmbeddingType::kSummary, &se);
  if (s.IsNotFound()) return Status::OK();
  if (!s.ok()) return s;
  if (!IsOurEmbedding(se.model_name, se.dimensions)) return Status::OK();
  return observer_->OnSummaryVector(e, se.vector.data(), se.dimensions);
}

std::optional<std::vector<std::string>> Store::DeriveContextColumns(Entry* e) const {
  auto it = e->extra.find("context_structured");
  if (it == e->extra.end() || !it->is_string()) return std::nullopt;
  RekallContext rc;
  if (!ToRekallContext(nlohmann::json::parse(it->get<std::string>(), nullptr, false), e->title, e->content, &rc))
    return std::nullopt;
  *it = rc.json;
  auto b64 = [](const std::string& raw) {
    return nlohmann::json{{"base64", Base64Encode(reinterpret_cast<const unsigned char*>(raw.data()), raw.size())}};
  };
  if (HasEntryColumn("context_blob")) e->extra["context_blob"] = b64(rc.blob);
  // Rekall writes it when the context is first given; a free text of its
  // own (`rekall add --context`) is kept.
  if (HasEntryColumn("context_compressed") && e->extra.value("context_compressed", nlohmann::json()).is_null())
    e->extra["context_compressed"] = b64(rc.summary);
  return rc.keywords;
}

Status Store::WriteContextKeywords(const std::string& id, const std::vector<std::string>& keywords) {
  if (!has_context_keywords_table_) return Status::OK();
  Stmt del(db_, "DELETE FROM context_keywords WHERE entry_id = ?");
  del.Bind(1, id);
  Status s = del.Run("writing context keywords");
  for (size_t i = 0; s.ok() && i < keywords.size(); ++i) {
    Stmt ins(db_, "INSERT OR IGNORE INTO context_keywords(entry_id, keyword) VALUES (?1, ?2)");
    ins.Bind(1, id);
    ins.Bind(2, keywords[i]);
    s = ins.Run("writing context keywords");
  }
  return s;
}

Status Store::WriteEntry(Entry* e, bool insert, const std::vector<float>* summary) {
  NormalizeTags(&e->tags);
  Status s = ValidateEntry(*e);
  if (!s.ok()) return s;
  std::optional<std::vector<std::string>> keywords = DeriveContextColumns(e);
  return WithTransaction([&]() -> Status {
    Status t = WriteEntryRow(*e, insert);
    if (!t.ok()) return t;
    if (keywords && !(t = WriteContextKeywords(e->id, *keywords)).ok()) return t;
    if (!(t = WriteTags(*e)).ok()) return t;
    if (summary && !(t = PutEmbedding(e->id, EmbeddingType::kSummary, *summary)).ok()) return t;
    return NotifySummary(*e, summary);
  });
}

Status Store::Add(Entry* e, const std::vector<float>* summary) {
  if (e->id.empty()) e->id = NewUlid();
  std::string now = NowIsoLocal();
  if (e->created_at.empty()) e->created_at = now;
  if (e->updated_at.empty()) e->updated_at = e->created_at;
  // As Rekall's add: a new entry counts as read when it was written (its
  // stale and review data start there).
  if (HasEntryColumn("last_accessed") && !e->extra.contains("last_accessed"))
    e->extra["last_accessed"] = e->created_at;
  return WriteEntry(e, true, summary);
}

Status Store::InsertRaw(const Entry& e) {
  if (e.id.empty()) return Status::InvalidArgument("entry has no id");
  if (e.created_at.empty() || e.updated_at.empty())
    return Status::InvalidArgument("entry " + e.id + " has no created_at/updated_at");
  Status s = ValidateEntry(e);
  if (!s.ok()) return s;
  return WithTransaction([&]() -> Status {
    Status t = WriteEntryRow(e, true);
    if (!t.ok()) return t;
    return WriteTags(e);
  });
}

Status Store::ReplaceRaw(const Entry& e) {
  if (e.created_at.empty() || e.updated_at.empty())
    return Status::InvalidArgument("entry " + e.id + " has no created_at/updated_at");
  Status s = ValidateEntry(e);
  if (!s.ok()) return s;
  return WithTransaction([&]() -> Status {
    Status t = WriteEntryRow(e, false);
    if (!t.ok()) return t;
    if (sqlite3_changes(db_) == 0) return Status::NotFound("no entry with id " + e.id);
    return WriteTags(e);
  });
}

Status Store::SetSupersededBy(const std::string& id, const std::string& target) {
  return WithTransaction([&]() -> Status {
    Stmt st(db_, "UPDATE entries SET superseded_by = ?2 WHERE id = ?1");
    st.Bind(1, id);
    st.Bind(2, target);
    int rc = st.Step();
    if (rc == SQLITE_CONSTRAINT_FOREIGNKEY)
      return Status::InvalidArgument("superseded_by names no existing entry (" + target + ")");
    if (rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "writing entry " + id);
    if (sqlite3_changes(db_) == 0) return Status::NotFound("no entry with id " + id);
    return Status::OK();
  });
}

Status Store::PutSummary(const Entry& e, const std::vector<float>& vec) {
  return WithTransaction([&]() -> Status {
    Status t = PutEmbedding(e.id, EmbeddingType::kSummary, vec);
    if (!t.ok()) return t;
    return NotifySummary(e, &vec);
  });
}

Status Store::PutContextEmbedding(const std::string& entry_id, const std::vector<float>& vec) {
  return WithTransaction([&] { return PutEmbedding(entry_id, EmbeddingType::kContext, vec); });
}

Status Store::Update(Entry* e, const std::vector<float>* summary) {
  e->updated_at = NowIsoLocal();
  return WriteEntry(e, false, summary);
}

Status Store::Delete(const std::string& id) {
  return WithTransaction([&]() -> Status {
    // Entries that point at this one through superseded_by would block the
    // delete (foreign key); they lose the pointer, not their content.
    Stmt un(db_, "UPDATE entries SET superseded_by = NULL WHERE superseded_by = ?");
    un.Bind(1, id);
    int rc = un.Step();
    if (rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "deleting entry " + id);
    // Rekall's older schemas lack ON DELETE CASCADE on some tables: delete
    // dependants explicitly.
    if (schema_.has_embeddings_table) {
      Stmt de(db_, "DELETE FROM embeddings WHERE entry_id = ?");
      de.Bind(1, id);
      if ((rc = de.Step()) != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "deleting entry " + id);
    }
    Stmt dt(db_, "DELETE FROM tags WHERE entry_id = ?");
    dt.Bind(1, id);
    if ((rc = dt.Step()) != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "deleting entry " + id);
    // Rekall's delete trigger finds the keyword rows by a scan; when we may,
    // the statement leaves it out and UnindexFtsRows does its work.
    const bool unindex = FtsUpkeepHolds(FtsWrite::kDelete);
    std::optional<sqlite::TriggersOff> off;
    if (unindex) off.emplace(db_);
    Stmt st(db_, "DELETE FROM entries WHERE id = ?");
    st.Bind(1, id);
    rc = st.Step();
    off.reset();
    if (rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "deleting entry " + id);
    if (sqlite3_changes(db_) == 0) return Status::NotFound("no entry with id " + id);
    if (unindex) {
      Status s = UnindexFtsRows(id);
      if (!s.ok()) return s;
    }
    if (observer_) return observer_->OnEntryRemoved(id);
    return Status::OK();
  });
}

Status Store::Get(const std::string& id, Entry* e) {
  Stmt st(db_, "SELECT * FROM entries WHERE id = ?");
  Status s = st.status("reading entry");
  if (!s.ok()) return s;
  st.Bind(1, id);
  int rc = st.Step();
  if (rc == SQLITE_DONE) return Status::NotFound("no entry with id " + id);
  if (rc != SQLITE_ROW) return sqlite::ToStatus(db_, rc, "reading entry " + id);
  ReadEntryRow(st, e);
  Stmt tg(db_, "SELECT tag FROM tags WHERE entry_id = ? ORDER BY tag");
  tg.Bind(1, id);
  e->tags.clear();
  while ((rc = tg.Step()) == SQLITE_ROW) e->tags.push_back(tg.Text(0));
  if (rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "reading tags of " + id);
  return Status::OK();
}

Status Store::Exists(const std::string& id, bool* exists) {
  Stmt st(db_, "SELECT 1 FROM entries WHERE id = ?");
  st.Bind(1, id);
  int rc = st.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "reading entry " + id);
  *exists = rc == SQLITE_ROW;
  return Status::OK();
}

Status Store::IdsWithPrefix(const std::string& prefix, int limit, std::vector<std::string>* ids) {
  ids->clear();
  // The ids in [prefix, prefix + 0xFF): an index range, not a LIKE scan.
  Stmt st(db_, "SELECT id FROM entries WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3");
  Status s = st.status("resolving an id prefix");
  if (!s.ok()) return s;
  st.Bind(1, prefix);
  st.Bind(2, prefix + "\xff");
  st.Bind(3, static_cast<int64_t>(limit));
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) ids->push_back(st.Text(0));
  return st.Done(rc, "resolving an id prefix");
}

std::string internal::FilterSql(const ListFilter& f, std::vector<std::string>* binds, bool status_usually_holds) {
  std::string w;
  auto add = [&](const std::string& cond, const std::string& v) {
    w += (w.empty() ? " WHERE " : " AND ") + cond;
    binds->push_back(v);
  };
  if (f.type) add("e.type = ?", *f.type);
  if (f.project) add("e.project = ?", *f.project);
  if (f.status) add(status_usually_holds ? "likelihood(e.status = ?, 0.9)" : "e.status = ?", *f.status);
  if (f.memory_type) add(std::string("COALESCE(e.memory_type, '") + kMemoryTypes[0] + "') = ?", *f.memory_type);
  for (const auto& t : f.tags) add("EXISTS (SELECT 1 FROM tags t WHERE t.entry_id = e.id AND t.tag = ?)", t);
  return w;
}

bool internal::FilterHasIndexedStart(const ListFilter& f) { return f.type.has_value() || f.project.has_value(); }

Status Store::List(const ListFilter& f, std::vector<Entry>* out) {
  std::vector<std::string> binds;
  std::string sql = "SELECT e.id FROM entries e" + internal::FilterSql(f, &binds) + " ORDER BY e.created_at DESC, e.id DESC";
  if (f.limit > 0) sql += " LIMIT " + std::to_string(f.limit);
  Stmt st(db_, sql);
  Status s = st.status("listing entries");
  if (!s.ok()) return s;
  for (size_t i = 0; i < binds.size(); ++i) st.Bind(static_cast<int>(i + 1), binds[i]);
  std::vector<std::string> ids;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) ids.push_back(st.Text(0));
  if (rc != SQLITE_DONE) return sqlite::ToStatus(db_, rc, "listing entries");
  out->clear();
  for (const auto& id : ids) {
    Entry e;
    if (!(s = Get(id, &e)).ok()) return s;
    out->push_back(std::move(e));
  }
  return Status::OK();
}

bool Store::HasEntryColumn(const std::string& column) const {
  return std::find(entry_columns_.begin(), entry_columns_.end(), column) != entry_columns_.end();
}

Status Store::Count(size_t* n) {
  Stmt st(db_, "SELECT COUNT(*) FROM entries");
  int rc = st.Step();
  if (rc != SQLITE_ROW) return sqlite::ToStatus(db_, rc, "counting entries");
  *n = static_cast<size_t>(st.Int(0));
  return Status::OK();
}

Status Store::PutEmbedding(const std::string& entry_id, EmbeddingType type, const std::vector<float>& vec,
                           const std::string& model_name) {
  if (!schema_.has_embeddings_table)
    return Status::Unavailable("database " + path_ + " has no embeddings table; run `rekall migrate`");
  if (vec.size() != static_cast<size_t>(kOurDim))
    return Status::InvalidArgument("embedding has " + std::to_string(vec.size()) + " dimensions; expected " +
                                   std::to_string(kOurDim));
  Stmt st(db_,
          "INSERT INTO embeddings(id, entry_id, embedding_type, vector, dimensions, model_name, created_at) "
          "VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(entry_id, embedding_type) DO UPDATE SET "
          "vector = excluded.vector, dimensions = excluded.dimensions, model_name = excluded.model_name, "
          "created_at = excluded.created_at");
  Status s = st.status("writing embedding");
  if (!s.ok()) return s;
  st.Bind(1, NewUlid());
  st.Bind(2, entry_id);
  st.Bind(3, EmbeddingTypeName(type));
  st.BindBlob(4, vec.data(), vec.size() * sizeof(float));  // see kOurVectorBytes
  st.Bind(5, static_cast<int64_t>(vec.size()));
  st.Bind(6, model_name);
  st.Bind(7, NowIsoLocal());
  return st.Run("writing embedding of " + entry_id);
}

namespace {

// Reads entry_id, vector, dimensions, model_name (columns 0-3).
Status ReadEmbeddingRow(const Stmt& st, EmbeddingType type, StoredEmbedding* out) {
  out->entry_id = st.Text(0);
  out->type = type;
  out->dimensions = static_cast<int>(st.Int(2));
  out->model_name = st.Text(3);
  const int bytes = st.Bytes(1);
  if (bytes != out->dimensions * 4)
    return Status::Corruption("embedding of " + out->entry_id + " holds " + std::to_string(bytes) +
                              " bytes for " + std::to_string(out->dimensions) + " dimensions");
  out->vector.resize(static_cast<size_t>(out->dimensions));
  if (bytes) std::memcpy(out->vector.data(), st.Blob(1), static_cast<size_t>(bytes));
  return Status::OK();
}

Status UnknownType(const std::string& type) {
  return Status::InvalidArgument("unknown embedding type '" + type + "' (summary or context)");
}

}  // namespace

Status Store::GetEmbedding(const std::string& entry_id, EmbeddingType type, StoredEmbedding* out) {
  if (!schema_.has_embeddings_table) return Status::NotFound("no embeddings table");
  Stmt st(db_,
          "SELECT entry_id, vector, dimensions, model_name FROM embeddings "
          "WHERE entry_id = ? AND embedding_type = ?");
  st.Bind(1, entry_id);
  st.Bind(2, EmbeddingTypeName(type));
  int rc = st.Step();
  if (rc == SQLITE_DONE)
    return Status::NotFound("entry " + entry_id + " has no " + EmbeddingTypeName(type) + " embedding");
  if (rc != SQLITE_ROW) return sqlite::ToStatus(db_, rc, "reading embedding");
  return ReadEmbeddingRow(st, type, out);
}

Status Store::ListEmbeddings(EmbeddingType type, std::vector<StoredEmbedding>* out) {
  out->clear();
  if (!schema_.has_embeddings_table) return Status::OK();
  Stmt st(db_,
          "SELECT entry_id, vector, dimensions, model_name FROM embeddings "
          "WHERE embedding_type = ? ORDER BY entry_id");
  st.Bind(1, EmbeddingTypeName(type));
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    StoredEmbedding e;
    // A row whose bytes do not match its dimension is listed with no vector,
    // so that a check (doctor) can report and repair it rather than stop.
    if (!ReadEmbeddingRow(st, type, &e).ok()) e.vector.clear();
    out->push_back(std::move(e));
  }
  return st.Done(rc, "reading embeddings");
}

Status Store::EntriesWithoutEmbedding(EmbeddingType type, std::vector<std::string>* ids) {
  ids->clear();
  std::string sql = schema_.has_embeddings_table
                        ? "SELECT e.id FROM entries e WHERE NOT EXISTS (SELECT 1 FROM embeddings m WHERE "
                          "m.entry_id = e.id AND " + OurEmbeddingSql("m", type) + ") ORDER BY e.id"
                        : "SELECT e.id FROM entries e ORDER BY e.id";
  Stmt st(db_, sql);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) ids->push_back(st.Text(0));
  return st.Done(rc, "listing entries without embeddings");
}

Status Store::GetEmbedding(const std::string& entry_id, const std::string& type, StoredEmbedding* out) {
  EmbeddingType t;
  return ParseEmbeddingType(type, &t) ? GetEmbedding(entry_id, t, out) : UnknownType(type);
}

Status Store::ListEmbeddings(const std::string& type, std::vector<StoredEmbedding>* out) {
  EmbeddingType t;
  return ParseEmbeddingType(type, &t) ? ListEmbeddings(t, out) : UnknownType(type);
}

Status Store::EntriesWithoutEmbedding(const std::string& type, std::vector<std::string>* ids) {
  EmbeddingType t;
  return ParseEmbeddingType(type, &t) ? EntriesWithoutEmbedding(t, ids) : UnknownType(type);
}

Status Store::CountEmbeddings(size_t* n) {
  *n = 0;
  if (!schema_.has_embeddings_table) return Status::OK();
  Stmt st(db_, "SELECT COUNT(*) FROM embeddings WHERE " + EmbeddingTypeSql("", EmbeddingType::kSummary));
  Status s = st.StepRow("counting embeddings");
  if (s.ok()) *n = static_cast<size_t>(st.Int(0));
  return s;
}

Status Store::CountMismatchedSummaries(size_t* n) {
  *n = 0;
  if (!schema_.has_embeddings_table) return Status::OK();
  Stmt st(db_, "SELECT COUNT(*) FROM embeddings m WHERE " + EmbeddingTypeSql("m", EmbeddingType::kSummary) +
                   " AND NOT (" + OurSummarySql("m") + ")");
  Status s = st.StepRow("counting mismatched embeddings");
  if (s.ok()) *n = static_cast<size_t>(st.Int(0));
  return s;
}

Status Store::DataVersion(int64_t* v) { return sqlite::DataVersion(db_, v); }

Status Store::EnableKeywordIndex() {
  if (keyword_index_) return Status::OK();
  return LiveKeywordIndex::Open(db_, path_, &keyword_index_);
}

LiveKeywordIndex::Stats Store::KeywordIndexStats() {
  return keyword_index_ ? keyword_index_->stats() : LiveKeywordIndex::Stats{};
}

}  // namespace rekall::store
