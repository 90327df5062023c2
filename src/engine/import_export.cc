// Import and export as JSON Lines, one entry per line in its export form
// (store::EntryToJson). An import is all or nothing: every line is read and
// checked before anything is written, then every entry (and its embedding)
// is written in one transaction.
#include <algorithm>
#include <istream>
#include <ostream>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/engine_impl.h"
#include "util/json.h"
#include "util/ulid.h"

namespace rekall {

namespace {

// The message of a failing line, which also says the import did nothing.
Status LineError(size_t line, const std::string& what) {
  return Status::InvalidArgument("line " + std::to_string(line) + ": " + what + "; nothing was imported");
}

// The longest import line read. An entry's texts are bounded (1 MiB of
// content, escaped up to 6 bytes a byte as \uXXXX), so a longer line is no
// export of ours, and reading without bound (`import /dev/zero`) would
// exhaust memory before failing.
constexpr size_t kMaxImportLineBytes = 16u << 20;

// Reads up to the next '\n' (not kept) into *line. False at the end of the
// input with nothing read; *too_long when the line passes the bound (the
// rest is left unread).
bool ReadLine(std::istream& in, std::string* line, bool* too_long) {
  line->clear();
  std::streambuf* sb = in.rdbuf();
  for (int c = sb->sbumpc(); c != std::char_traits<char>::eof(); c = sb->sbumpc()) {
    if (c == '\n') return true;
    if (line->size() == kMaxImportLineBytes) {
      *too_long = true;
      return true;
    }
    line->push_back(static_cast<char>(c));
  }
  return !line->empty();
}

}  // namespace

Status EngineImpl::ParseImport(std::istream& in, std::vector<store::Entry>* entries, std::vector<size_t>* lines) {
  std::string line;
  size_t lineno = 0;
  std::set<std::string> seen;
  bool too_long = false;
  while (ReadLine(in, &line, &too_long)) {
    ++lineno;
    if (too_long)
      return LineError(lineno, "longer than " + std::to_string(kMaxImportLineBytes >> 20) + " MiB (not an entry)");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json j;
    Status s = ParseJson(line, kMaxJsonDepth, &j);
    if (!s.ok()) return LineError(lineno, "malformed JSON (" + s.message() + ")");
    store::Entry e;
    s = store::EntryFromJson(j, &e);
    if (s.ok()) {
      store::NormalizeTags(&e.tags);
      s = store::ValidateEntry(e);
    }
    if (s.ok() && !e.id.empty() && !seen.insert(e.id).second) s = Status::InvalidArgument("duplicate id " + e.id);
    if (!s.ok()) return LineError(lineno, s.message());
    entries->push_back(std::move(e));
    lines->push_back(lineno);
  }
  if (in.bad()) return Status::IOError("reading the import failed");
  return Status::OK();
}

Status EngineImpl::ImportOne(store::Entry* e, size_t line, OnConflict on_conflict, bool* skipped) {
  *skipped = false;
  Status s;
  if (e->id.empty()) {
    s = store_->Add(e, nullptr);
    return s.IsInvalidArgument() ? LineError(line, s.message()) : s;
  }
  bool exists = false;
  if (!(s = store_->Exists(e->id, &exists)).ok()) return s;
  if (exists) {
    if (on_conflict == OnConflict::kSkip) {
      *skipped = true;
      return Status::OK();
    }
    if (on_conflict == OnConflict::kError)
      return LineError(line, "an entry with id " + e->id + " already exists (use --on-conflict skip or replace)");
    if (!(s = store_->Delete(e->id)).ok()) return s;
  }
  // Lines with an id keep their timestamps; an export always has both.
  if (e->created_at.empty()) e->created_at = NowIsoLocal();
  if (e->updated_at.empty()) e->updated_at = e->created_at;
  s = store_->InsertRaw(*e);
  return s.IsInvalidArgument() ? LineError(line, s.message()) : s;
}

Status EngineImpl::WriteImport(std::vector<store::Entry>* entries, const std::vector<size_t>& lines,
                               OnConflict on_conflict, const std::vector<float>* vecs, size_t* imported,
                               size_t* skipped) {
  // Two passes in one transaction: every entry first without its
  // superseded_by, then the pointers, so a file in any order (a chain written
  // newest first, a cycle) imports; the foreign key is still checked.
  return store_->WithTransaction([&]() -> Status {
    std::vector<bool> written(entries->size(), false);
    for (size_t i = 0; i < entries->size(); ++i) {
      store::Entry e = (*entries)[i];
      e.superseded_by.reset();
      bool skip = false;
      Status t = ImportOne(&e, lines[i], on_conflict, &skip);
      if (t.ok() && !skip && vecs) t = store_->PutSummary(e, Row(*vecs, i));
      if (!t.ok()) return t;
      (*entries)[i].id = e.id;
      written[i] = !skip;
      ++*(skip ? skipped : imported);
    }
    for (size_t i = 0; i < entries->size(); ++i) {
      const auto& e = (*entries)[i];
      if (!written[i] || !e.superseded_by) continue;
      Status t = store_->SetSupersededBy(e.id, *e.superseded_by);
      if (!t.ok()) return t.IsInvalidArgument() ? LineError(lines[i], t.message()) : t;
    }
    return Status::OK();
  });
}

Status EngineImpl::Import(std::istream& in, OnConflict on_conflict, bool embed, size_t* imported, size_t* skipped,
                          std::string* notice, const std::function<void(size_t, size_t)>& progress) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  *imported = *skipped = 0;
  std::vector<store::Entry> entries;
  std::vector<size_t> lines;
  Status s = ParseImport(in, &entries, &lines);
  if (!s.ok()) return s;

  bool can_embed = embed && store_->schema().has_embeddings_table && provider_->CheckAvailable().ok();
  std::vector<float> vecs;
  if (can_embed && !entries.empty()) {
    if (!(s = EmbedEntries(entries, &vecs, progress)).ok()) return s;
    if (!(s = EnsureIndex()).ok()) return s;
  } else if (notice && !entries.empty() && embed) {
    *notice = "imported without embeddings (" + provider_->CheckAvailable().message() +
              "); run `rekall index rebuild` once the model is installed";
  }
  if (!(s = SyncWithOtherWriters()).ok()) return s;
  s = WriteImport(&entries, lines, on_conflict, can_embed ? &vecs : nullptr, imported, skipped);
  entry_cache_->Clear();
  if (!s.ok()) {
    *imported = *skipped = 0;
    if (index_) index_->MarkStale();
    return s;
  }
  store_->DataVersion(&data_version_);
  return Status::OK();
}

Status EngineImpl::Export(std::ostream& out, size_t* exported, std::string* notice) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  std::vector<store::Entry> all;
  Status s = store_->List({}, &all);
  if (!s.ok()) return s;
  // Oldest first, so an import replays the history in order.
  std::sort(all.begin(), all.end(), [](const store::Entry& a, const store::Entry& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  size_t replaced = 0;
  for (const auto& e : all) {
    bool r = false;
    out << DumpJson(store::EntryToJson(e), -1, &r) << '\n';
    replaced += r;
  }
  out.flush();
  if (!out) return Status::IOError("writing the export failed");
  *exported = all.size();
  if (replaced)
    *notice = std::to_string(replaced) + " entries hold invalid UTF-8, exported with U+FFFD in its place";
  return Status::OK();
}

}  // namespace rekall
