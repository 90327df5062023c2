// Store::KeywordSearch: FTS5 bm25 over Rekall's entries_fts, any word.
//
// Why it is more than one SELECT. bm25() scores every entry holding any of
// the words, and an agent's query is full of words most entries hold ("how",
// "with", "error"): on the soak benchmark's 10K entries the median query
// matched 6,400 entries, and the single join-and-rank SELECT took p50 27.5 ms
// / p95 51.5 ms (load 10, scripted side by side in /tmp/kw/kw2.py on the soak
// store). Two things cut it to p50 7.0 / p95 15.7 ms on the same run:
//   - Words held by at least half the entries carry no weight: FTS5's bm25
//     gives such a phrase an IDF of 1e-6 (log((N - n + 0.5) / (n + 0.5)) is
//     <= 0 and is floored there). They are left out of the ranking pass when
//     another word remains, so the pass scores only entries holding an
//     informative word. Scores then differ from the full query's by at most
//     1e-6 x 2.2 x 3 per word left out, which can only reorder entries tied
//     to that precision; when fewer than `limit` entries hold an
//     informative word, the full query runs instead (the rest of the list
//     is entries holding only common words).
//   - The ranking pass reads rowids and scores only, and the entries of the
//     few rows kept are looked up (and filtered) afterwards: the join read
//     every matching entry's FTS row and entries row before ranking.
// In a server, the ranking pass and the counts come from the in-memory
// index (keyword_index.h) whenever it holds the snapshot being read: the
// same rowids and scores, to the bit, at the cost of the postings of the
// query's words; terms left out and ties are the same code, and filters
// take IndexRanked (ranking more rows costs the index little).
#include <algorithm>
#include <cctype>
#include <unordered_map>
#include <unordered_set>

#include "sqlite/sqlite.h"
#include "store/filter_sql.h"
#include "store/keyword_index.h"
#include "store/store.h"
#include "util/utf8.h"

namespace rekall::store {

namespace {

using sqlite::Stmt;

// bm25() with the column weights of keyword_index.h.
const std::string& Bm25() {
  static const std::string kBm25 = [] {
    std::string f = "bm25(entries_fts";
    for (int w : kColumnWeights) f += ", " + std::to_string(w);
    return f + ")";
  }();
  return kBm25;
}

// Rows read past `limit` by the rowid-only pass, so that entries tied with
// the last one kept are all seen and ordered by id.
constexpr int kTieMargin = 16;

// Rows read by the second pass when a tie or the filter runs past the first.
constexpr int64_t kTieRows = 4096;

// A term as a quoted FTS5 string: operators (AND, NEAR, *, ^, :) inside lose
// their meaning. Empty when it holds nothing the unicode61 tokenizer indexes
// (a letter, digit or non-ASCII character), so `*` or `(` alone do not
// become an empty phrase.
std::string QuotedTerm(const std::string& term) {
  bool searchable = false;
  for (unsigned char c : term) searchable |= (std::isalnum(c) || c >= 0x80);
  if (!searchable) return "";
  std::string quoted = "\"";
  for (char c : term) {
    if (c == '"') quoted += "\"\"";
    else quoted += c;
  }
  return quoted + "\"";
}

std::string AsciiLower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// A word of the query: as FTS5 reads it (quoted), and as the in-memory
// index reads it (the tokens FTS5 makes of it: a phrase when several).
struct Term {
  std::string quoted;
  std::string raw;
  std::vector<std::string> tokens;  // a phrase when several
};

// The query's distinct terms (ASCII case folded), quoted, at most
// kMaxFtsTerms of them: FTS5's bm25() walks every phrase against every
// occurrence, so a repeated word costs quadratically (issue 10 #6).
std::vector<Term> FtsTerms(const std::string& q) {
  std::vector<Term> terms;
  std::unordered_set<std::string> seen;
  size_t i = 0;
  while (i < q.size() && seen.size() < kMaxFtsTerms) {
    while (i < q.size() && std::isspace(static_cast<unsigned char>(q[i]))) ++i;
    size_t j = i;
    while (j < q.size() && !std::isspace(static_cast<unsigned char>(q[j]))) ++j;
    std::string raw = q.substr(i, j - i);
    std::string quoted = QuotedTerm(raw);
    if (!quoted.empty() && seen.insert(AsciiLower(quoted)).second) terms.push_back(Term{std::move(quoted), raw, {}});
    i = j;
  }
  return terms;
}

std::string OrOf(const std::vector<Term>& terms) {
  std::string out;
  for (const Term& t : terms) out += (out.empty() ? "" : " OR ") + t.quoted;
  return out;
}

void AddToken(void* out, std::string_view token) { static_cast<std::vector<std::string>*>(out)->emplace_back(token); }

// Fills each term's tokens; false when a term makes none (an empty phrase,
// whose handling FTS5 alone knows): FTS5 ranks that query.
bool TokenizeTerms(const FtsTokenizer& tok, std::vector<Term>* terms) {
  for (Term& t : *terms) {
    t.tokens.clear();
    if (!tok.Tokenize(t.raw, true, AddToken, &t.tokens).ok() || t.tokens.empty()) return false;
  }
  return true;
}

// Who ranks: FTS5 through SQL, or the in-memory index when it holds the
// snapshot being read.
struct Ranker {
  sqlite3* db;
  const KeywordIndex* index;  // null: FTS5
};

// The entries_fts rows holding `phrase`, counted up to `cap` by `st`
// (kCountMatchesSql, prepared once for all the terms of a query).
constexpr const char* kCountMatchesSql =
    "SELECT count(*) FROM (SELECT 1 FROM entries_fts WHERE entries_fts MATCH ? LIMIT ?)";

Status CountMatches(Stmt& st, const std::string& phrase, int64_t cap, int64_t* n) {
  st.Bind(1, phrase);
  st.Bind(2, cap);
  Status s = st.StepRow("counting keyword matches");
  if (s.ok()) *n = st.Int(0);
  st.Reset();
  return s;
}

// The terms held by fewer than half the rows of entries_fts (the only ones
// bm25 weighs). All of them when the row count cannot be read (an FTS table
// without its docsize table). The index counts as FTS5 does: its rows are
// the docsize rows.
Status InformativeTerms(const Ranker& r, const std::vector<Term>& terms, std::vector<Term>* out) {
  *out = terms;
  if (terms.size() < 2) return Status::OK();
  if (r.index) {
    const int64_t total = int64_t(r.index->live_rows());
    out->clear();
    for (const Term& t : terms)
      if (2 * r.index->Holding(t.tokens) < total) out->push_back(t);
    return Status::OK();
  }
  Stmt rows(r.db, "SELECT count(*) FROM entries_fts_docsize");
  if (!rows.status("").ok() || rows.Step() != SQLITE_ROW) return Status::OK();
  const int64_t total = rows.Int(0);
  Stmt count(r.db, kCountMatchesSql);
  Status s = count.status("counting keyword matches");
  if (!s.ok()) return s;
  out->clear();
  for (const Term& t : terms) {
    int64_t n = 0;
    s = CountMatches(count, t.quoted, (total + 1) / 2, &n);
    if (!s.ok()) return s;
    if (2 * n < total) out->push_back(t);
  }
  return Status::OK();
}

bool ByScoreThenId(const KeywordHit& a, const KeywordHit& b) {
  return a.bm25 < b.bm25 || (a.bm25 == b.bm25 && a.id < b.id);
}

// A filter's SQL and its values, built once per search.
struct Filter {
  std::string sql;  // " WHERE ..." over entries `e`, or ""
  std::vector<std::string> binds;
  bool indexed_start = false;  // internal::FilterHasIndexedStart
  // What a condition after the filter's own starts with.
  std::string WhereAnd() const { return sql.empty() ? " WHERE " : sql + " AND "; }
};

// Ranks `match` by joining every matching row with its entry: the
// reference ranking, used when the ranking by rowids cannot prove its
// answer.
Status JoinRanked(sqlite3* db, const std::string& match, const Filter& f, int limit, std::vector<KeywordHit>* out) {
  std::string sql = "SELECT e.id, " + Bm25() +
                    " AS score FROM entries_fts JOIN entries e ON e.id = entries_fts.id" + f.WhereAnd() +
                    "entries_fts MATCH ? ORDER BY score, e.id LIMIT " + std::to_string(limit);
  Stmt st(db, sql);
  Status s = st.status("keyword search");
  if (!s.ok()) return s;
  int i = 1;
  for (const auto& b : f.binds) st.Bind(i++, b);
  st.Bind(i, match);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) out->push_back(KeywordHit{st.Text(0), st.Double(1), 0});
  return st.Done(rc, "keyword search");
}

// Up to `cap` rows of the ranking of `terms`, best first: rowids and
// scores, from the index when there is one (the same scores, to the bit).
Status RankedRowids(const Ranker& r, const std::vector<Term>& terms, int64_t cap,
                    std::vector<std::pair<int64_t, double>>* rows) {
  rows->clear();
  if (r.index) {
    std::vector<std::vector<std::string>> phrases;
    for (const Term& t : terms) phrases.push_back(t.tokens);
    r.index->Rank(phrases, cap, rows);
    return Status::OK();
  }
  const std::string match = OrOf(terms);
  sqlite3* db = r.db;
  Stmt st(db, "SELECT rowid, " + Bm25() +
                  " AS score FROM entries_fts WHERE entries_fts MATCH ? ORDER BY score LIMIT ?");
  st.Bind(1, match);
  st.Bind(2, cap);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) rows->emplace_back(st.Int(0), st.Double(1));
  return st.Done(rc, "keyword search");
}

// Walks ranked FTS rows [begin, end), adding to *out in rank order each
// row whose entry `entry_of(rowid, &id, &found)` finds, until `limit` are
// held and every row tied with the last of them is read. False in
// *complete when the rows ran out first. KeptRows looks entries up in SQL,
// KeptOf in a map read beforehand.
template <class EntryOf>
Status WalkKept(const std::vector<std::pair<int64_t, double>>& rows, size_t begin, size_t end, int limit,
                EntryOf entry_of, std::vector<KeywordHit>* out, bool* complete) {
  *complete = false;
  for (size_t r = begin; r < end; ++r) {
    if (out->size() >= size_t(limit) && rows[r].second != out->back().bm25) {
      *complete = true;
      return Status::OK();
    }
    std::string id;
    bool found = false;
    Status s = entry_of(rows[r].first, &id, &found);
    if (!s.ok()) return s;
    if (found) out->push_back(KeywordHit{std::move(id), rows[r].second, 0});
  }
  return Status::OK();
}

// The entry of each ranked FTS row in [begin, end) that has one and passes
// the filter (WalkKept).
Status KeptRows(sqlite3* db, const std::vector<std::pair<int64_t, double>>& rows, size_t begin, size_t end,
                const Filter& f, int limit, std::vector<KeywordHit>* out, bool* complete) {
  *complete = false;
  // CROSS JOIN keeps the FTS row first: on its own the planner may scan
  // every entry the filter's index selects and probe the FTS row of each.
  Stmt st(db, "SELECT e.id FROM entries_fts f CROSS JOIN entries e ON e.id = f.id" + f.WhereAnd() + "f.rowid = ?");
  Status s = st.status("keyword search");
  if (!s.ok()) return s;
  auto lookup = [&](int64_t rowid, std::string* id, bool* found) {
    st.Reset();
    int i = 1;
    for (const auto& b : f.binds) st.Bind(i++, b);
    st.Bind(i, rowid);
    const int rc = st.Step();
    *found = rc == SQLITE_ROW;
    if (*found) *id = st.Text(0);
    return *found || rc == SQLITE_DONE ? Status::OK() : st.Done(rc, "keyword search");
  };
  return WalkKept(rows, begin, end, limit, lookup, out, complete);
}

// The kept hits ordered as the join orders them (score, then entry id),
// `limit` of them.
Status Settled(int limit, std::vector<KeywordHit>* out, bool* exact) {
  std::sort(out->begin(), out->end(), ByScoreThenId);
  if (out->size() > size_t(limit)) out->resize(limit);
  *exact = true;
  return Status::OK();
}

// A filter keeping at most this many entries is read whole, in one
// statement, when the index ranks (see IndexRanked).
constexpr int64_t kFilteredRows = 2048;

// The keyword rows of the entries `f` keeps (FTS rowid -> entry id), when
// there are at most kFilteredRows of them (*few), read through the store's
// index on the rows' entry ids (fts_upkeep.cc); *few is false without it,
// or when the filter has no condition an index starts from.
Status FilteredRows(sqlite3* db, const Filter& f, std::unordered_map<int64_t, std::string>* rows, bool* few) {
  rows->clear();
  *few = false;
  if (!f.indexed_start || !internal::FtsIdIndexIsOurs(db)) return Status::OK();
  // CROSS JOIN: the filter's own indexes pick the entries, then each one's
  // keyword row is found by its id.
  Stmt st(db, "SELECT c.id, e.id FROM entries e CROSS JOIN entries_fts_content c ON c.c0 = e.id" + f.sql +
                  " LIMIT " + std::to_string(kFilteredRows + 1));
  Status s = st.status("keyword search");
  if (!s.ok()) return s;
  int i = 1;
  for (const auto& b : f.binds) st.Bind(i++, b);
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) rows->emplace(st.Int(0), st.Text(1));
  s = st.Done(rc, "keyword search");
  *few = s.ok() && int64_t(rows->size()) <= kFilteredRows;
  return s;
}

// KeptRows for rows whose entries are known: those of `kept`.
void KeptOf(const std::vector<std::pair<int64_t, double>>& rows, const std::unordered_map<int64_t, std::string>& kept,
            int limit, std::vector<KeywordHit>* out, bool* complete) {
  out->clear();
  auto lookup = [&](int64_t rowid, std::string* id, bool* found) {
    auto it = kept.find(rowid);
    *found = it != kept.end();
    if (*found) *id = it->second;
    return Status::OK();
  };
  WalkKept(rows, 0, rows.size(), limit, lookup, out, complete);
}

// Under a filter keeping few entries (`kept`): the best rows are walked,
// and when the list is not settled by them, every match.
Status FewKept(const Ranker& r, const std::vector<Term>& terms, const std::unordered_map<int64_t, std::string>& kept,
               int limit, bool all_ranked, std::vector<std::pair<int64_t, double>>* rows,
               std::vector<KeywordHit>* out, bool* exact) {
  if (kept.empty()) {
    out->clear();
    return Settled(limit, out, exact);
  }
  bool complete = false;
  KeptOf(*rows, kept, limit, out, &complete);
  if (!complete && !all_ranked) {
    Status s = RankedRowids(r, terms, int64_t(r.index->live_rows()), rows);
    if (!s.ok()) return s;
    KeptOf(*rows, kept, limit, out, &complete);
  }
  return Settled(limit, out, exact);
}

// The index's ranking under a filter. Ranking more rows costs the index
// nothing but a longer partial sort (the postings are scored anyway), so
// it ranks kTieRows at once; what costs is looking entries up one by one.
// The best `limit + kTieMargin` rows are looked up first; when few of them
// pass, the entries the filter keeps are read in one statement if there
// are at most kFilteredRows of them, and matched against the ranking;
// otherwise the lookups go on. At 100K entries (bench/soak/focus.py
// --filter, RESULTS.md there) a filter keeping no entry cost 303 ms of
// server CPU per search through the join, now 5.9; a project's filter (a
// sixth of the entries) 57.7 -> 11.9 ms, with p95 243 -> 52 ms. False in
// *exact when nothing settles the list: the join then answers.
Status IndexRanked(const Ranker& r, const std::vector<Term>& terms, const Filter& f, int limit,
                   std::vector<KeywordHit>* out, bool* exact) {
  *exact = false;
  out->clear();
  std::vector<std::pair<int64_t, double>> rows;
  const int64_t cap = std::max(int64_t(limit) + kTieMargin, kTieRows);
  Status s = RankedRowids(r, terms, cap, &rows);
  if (!s.ok()) return s;
  const bool all_ranked = int64_t(rows.size()) < cap;
  // Every row ranked from the limit-th on ties with it, and more tie past
  // the cap: looking them up one by one could never settle the list.
  const bool tie_past_cap = !all_ranked && rows.back().second == rows[size_t(limit) - 1].second;
  const size_t head = tie_past_cap ? 0 : std::min(rows.size(), size_t(limit) + kTieMargin);
  bool complete = false;
  s = KeptRows(r.db, rows, 0, head, f, limit, out, &complete);
  if (!s.ok()) return s;
  if (complete || (head == rows.size() && all_ranked)) return Settled(limit, out, exact);
  if (tie_past_cap || 8 * out->size() < head) {
    std::unordered_map<int64_t, std::string> kept;
    bool few = false;
    s = FilteredRows(r.db, f, &kept, &few);
    if (!s.ok() || few) return s.ok() ? FewKept(r, terms, kept, limit, all_ranked, &rows, out, exact) : s;
    if (tie_past_cap) return s;  // the join
  }
  s = KeptRows(r.db, rows, head, rows.size(), f, limit, out, &complete);
  if (s.ok() && (complete || all_ranked)) return Settled(limit, out, exact);
  return s;
}

// Ranks `match` by rowids and scores alone, then looks up the entries of
// the best rows one by one, skipping those the filter (or a missing entry)
// rules out. Entries tied with the limit-th must all be read to be ordered
// by id, so the first pass reads `limit + kTieMargin` rows and, when that
// is not enough and the filter kept most of them, a second reads
// kTieRows. False in *exact (and *out unusable) when that does not settle
// the list: JoinRanked then answers.
//
// Why: MCP searches filter on status by default, and the join scored and
// looked up every entry holding a word: 10 ms a query on the soak store's
// 10K entries (3,000 matches) against 2.5 ms for the rowid ranking (quiet
// machine; near-duplicate notes tie by the dozen there: the longest tie of
// 100 queries ended at row 67).
Status RowidRanked(const Ranker& r, const std::vector<Term>& terms, const Filter& f, int limit,
                   std::vector<KeywordHit>* out, bool* exact) {
  *exact = false;
  std::vector<std::pair<int64_t, double>> rows;
  for (int64_t cap : {int64_t(limit) + kTieMargin, std::max<int64_t>(int64_t(limit) + kTieMargin, kTieRows)}) {
    Status s = RankedRowids(r, terms, cap, &rows);
    if (!s.ok()) return s;
    // Every row read ties with the limit-th: the kept rows' tie runs past
    // them too, so looking them up would be wasted.
    if (int64_t(rows.size()) == cap && rows.back().second == rows[size_t(limit) - 1].second) continue;
    bool complete = false;
    out->clear();
    s = KeptRows(r.db, rows, 0, rows.size(), f, limit, out, &complete);
    if (!s.ok()) return s;
    if (complete || int64_t(rows.size()) < cap) return Settled(limit, out, exact);
    // A filter that rules out most rows would make the second pass look up
    // thousands of entries one by one: the join does it in one statement.
    if (2 * out->size() < rows.size()) break;
  }
  return Status::OK();
}

Status Ranked(const Ranker& r, const std::vector<Term>& terms, const Filter& f, int limit,
              std::vector<KeywordHit>* out) {
  bool exact = false;
  Status s = r.index ? IndexRanked(r, terms, f, limit, out, &exact) : RowidRanked(r, terms, f, limit, out, &exact);
  if (!s.ok() || exact) return s;
  out->clear();
  return JoinRanked(r.db, OrOf(terms), f, limit, out);
}

// Numbers the hits, or empties the list on an error.
Status Finish(Status s, std::vector<KeywordHit>* out) {
  if (!s.ok()) out->clear();
  for (size_t i = 0; i < out->size(); ++i) (*out)[i].rank = static_cast<int>(i) + 1;
  return s;
}

}  // namespace

std::string BuildFtsQuery(const std::string& q) { return OrOf(FtsTerms(q)); }

Status Store::KeywordSearch(const std::string& query, const ListFilter& f, int limit, std::vector<KeywordHit>* out) {
  out->clear();
  if (query.find('\0') != std::string::npos) return Status::InvalidArgument("query contains a NUL byte");
  if (!IsValidUtf8(query)) return Status::InvalidArgument("query is not valid UTF-8");
  if (query.size() > kMaxKeywordQueryBytes)
    return Status::InvalidArgument("keyword query of " + std::to_string(query.size()) + " bytes; at most " +
                                   std::to_string(kMaxKeywordQueryBytes) + " are searched");
  if (limit <= 0) return Status::OK();
  // Any word, ranked by bm25: entries holding more of the words, and rarer
  // ones, come first, and entries holding only some of them still fill the
  // list (requiring every word first capped recall: bench/quality/README.md).
  std::vector<Term> terms = FtsTerms(query);
  if (terms.empty()) return Status::OK();
  // Inside the caller's write transaction FTS5 holds changes not yet in its
  // records: only FTS5 itself can rank them.
  const bool own_transaction = !sqlite3_get_autocommit(db_);
  // The counts, the ranking and the lookups of its rows read one state of
  // the file, whatever another process writes meanwhile.
  sqlite::ReadSnapshot snapshot(db_);
  Ranker ranker{db_, nullptr};
  if (keyword_index_ && !own_transaction && TokenizeTerms(keyword_index_->tokenizer(), &terms))
    ranker.index = keyword_index_->Current(db_);
  std::vector<Term> informative;
  Status s = InformativeTerms(ranker, terms, &informative);
  Filter filter;
  filter.sql = internal::FilterSql(f, &filter.binds, /*status_usually_holds=*/true);
  filter.indexed_start = internal::FilterHasIndexedStart(f);
  if (s.ok() && !informative.empty() && informative.size() < terms.size()) {
    s = Ranked(ranker, informative, filter, limit, out);
    if (!s.ok() || out->size() >= size_t(limit)) return Finish(s, out);
  }
  if (s.ok()) s = Ranked(ranker, terms, filter, limit, out);
  return Finish(s, out);
}

}  // namespace rekall::store
