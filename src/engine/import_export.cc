// Import and export: our JSON Lines, one entry per line in its export form
// (store::EntryToJson), and Rekall's formats (rekall_formats.h,
// rekall_archive.h). An import is all or nothing: every entry is read and
// checked before anything is written, then every entry (and its embedding)
// is written in one transaction.
#include <algorithm>
#include <istream>
#include <iterator>
#include <ostream>
#include <set>

#include <nlohmann/json.hpp>

#include "engine/engine_impl.h"
#include "engine/rekall_archive.h"
#include "engine/rekall_formats.h"
#include "util/json.h"
#include "util/ulid.h"
#include "util/utf8.h"

namespace rekall {

namespace {

// The message of a failing entry ("line 3", "entry 3"), which also says the
// import did nothing.
Status LineError(const std::string& where, const std::string& what) {
  return Status::InvalidArgument(where + ": " + what + "; nothing was imported");
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

// Reads the whole input, refusing more than `max` bytes (`/dev/zero`).
Status ReadAllBounded(std::istream& in, size_t max, std::string* out) {
  out->clear();
  char buf[1 << 16];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    if (out->size() + static_cast<size_t>(in.gcount()) > max)
      return Status::InvalidArgument("the file is larger than " + std::to_string(max >> 20) +
                                     " MiB; nothing was imported");
    out->append(buf, static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) return Status::IOError("reading the import failed");
  return Status::OK();
}

// Normalises and checks one parsed entry; its id must not repeat in the file.
Status CheckImported(store::Entry* e, std::set<std::string>* seen) {
  store::NormalizeTags(&e->tags);
  Status s = store::ValidateEntry(*e);
  if (s.ok() && !e->id.empty() && !seen->insert(e->id).second) s = Status::InvalidArgument("duplicate id " + e->id);
  if (s.ok() && e->superseded_by && *e->superseded_by == e->id)
    s = Status::InvalidArgument("an entry cannot be superseded by itself (" + e->id + ")");
  return s;
}

// The fields Rekall compares to tell a changed entry from an identical one.
std::vector<std::string> ChangedFields(const store::Entry& a, const store::Entry& b) {
  std::vector<std::string> out;
  if (a.title != b.title) out.push_back("title");
  if (a.content != b.content) out.push_back("content");
  if (a.type != b.type) out.push_back("type");
  if (a.project != b.project) out.push_back("project");
  if (a.tags != b.tags) out.push_back("tags");  // both sorted and unique
  if (a.confidence != b.confidence) out.push_back("confidence");
  if (a.status != b.status) out.push_back("status");
  if (a.superseded_by != b.superseded_by) out.push_back("superseded_by");
  return out;
}

// What `on_conflict` does with an entry whose id is stored.
ImportAction ConflictAction(OnConflict on_conflict, bool identical) {
  switch (on_conflict) {
    case OnConflict::kReplace: return ImportAction::kReplace;
    case OnConflict::kMerge: return identical ? ImportAction::kSkip : ImportAction::kMerge;
    default: return ImportAction::kSkip;
  }
}

// Entries whose stored texts hold bytes that are not valid UTF-8.
size_t CountInvalidUtf8(const std::vector<store::Entry>& all) {
  size_t n = 0;
  for (const auto& e : all) {
    bool bad = !IsValidUtf8(e.title) || !IsValidUtf8(e.content) || !IsValidUtf8(e.type) ||
               (e.project && !IsValidUtf8(*e.project));
    for (const auto& t : e.tags) bad = bad || !IsValidUtf8(t);
    n += bad;
  }
  return n;
}

std::string InvalidUtf8Notice(size_t n) {
  return n ? std::to_string(n) + " entries hold invalid UTF-8, exported with U+FFFD in its place" : "";
}

// The largest JSON or archive file an import reads (see RekallArchiveLimits).
constexpr size_t kMaxImportFileBytes = size_t{1} << 30;

}  // namespace

Status EngineImpl::ParseJsonLines(std::istream& in, std::vector<store::Entry>* entries,
                                  std::vector<std::string>* where) {
  std::string line;
  size_t lineno = 0;
  std::set<std::string> seen;
  bool too_long = false;
  while (ReadLine(in, &line, &too_long)) {
    std::string at = "line " + std::to_string(++lineno);
    if (too_long) return LineError(at, "longer than " + std::to_string(kMaxImportLineBytes >> 20) + " MiB (not an entry)");
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json j;
    Status s = ParseJson(line, kMaxJsonDepth, &j);
    if (!s.ok()) return LineError(at, "malformed JSON (" + s.message() + ")");
    store::Entry e;
    s = store::EntryFromJson(j, &e);
    if (s.ok()) s = CheckImported(&e, &seen);
    if (!s.ok()) return LineError(at, s.message());
    entries->push_back(std::move(e));
    where->push_back(at);
  }
  if (in.bad()) return Status::IOError("reading the import failed");
  return Status::OK();
}

Status EngineImpl::ParseRekall(std::istream& in, ExchangeFormat format, std::vector<store::Entry>* entries,
                               std::vector<std::string>* where, ImportReport* report) {
  std::string bytes, manifest, json_text;
  Status s = ReadAllBounded(in, kMaxImportFileBytes, &bytes);
  if (s.ok() && format == ExchangeFormat::kRekallZip) {
    if ((s = ReadRekallArchive(bytes, RekallArchiveLimits(), &manifest, &json_text)).ok()) {
      RekallManifestInfo info;
      s = CheckRekallManifest(manifest, json_text, &info);
      report->archive_version = info.format_version;
      report->archive_created_at = info.created_at;
      report->archive_entries = info.entries_count;
    }
    if (!s.ok()) return Status::InvalidArgument(s.message() + "; nothing was imported");
  } else {
    json_text.swap(bytes);
  }
  if (s.ok()) s = RekallEntriesFromJson(json_text, entries);
  if (!s.ok()) {
    // One object a line is JSON Lines under a .json name.
    size_t first = json_text.find_first_not_of(" \t\r\n");
    std::string hint = first != std::string::npos && json_text[first] == '{' ? " (JSON Lines? use --format jsonl)" : "";
    return Status::InvalidArgument(s.message() + hint + "; nothing was imported");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < entries->size(); ++i) {
    store::Entry& e = (*entries)[i];
    where->push_back("entry " + std::to_string(i + 1));
    // Rekall's columns this file lacks (an older schema): Rekall's own
    // import drops them all.
    for (auto it = e.extra.begin(); it != e.extra.end();)
      it = store_->HasEntryColumn(it.key()) ? std::next(it) : e.extra.erase(it);
    if (!(s = CheckImported(&e, &seen)).ok()) return LineError(where->back(), s.message());
  }
  return Status::OK();
}

Status EngineImpl::ParseImport(std::istream& in, ExchangeFormat format, std::vector<store::Entry>* entries,
                               std::vector<std::string>* where, ImportReport* report) {
  switch (format) {
    case ExchangeFormat::kJsonLines: return ParseJsonLines(in, entries, where);
    case ExchangeFormat::kMarkdown:
      return Status::InvalidArgument("a Markdown export cannot be imported (it is for reading); use a JSON Lines, "
                                     "JSON or .rekall.zip export");
    default: return ParseRekall(in, format, entries, where, report);
  }
}

Status EngineImpl::PlanImport(const std::vector<store::Entry>& entries, const std::vector<std::string>& where,
                              OnConflict on_conflict, std::vector<ImportItem>* items) {
  items->clear();
  for (size_t i = 0; i < entries.size(); ++i) {
    const store::Entry& e = entries[i];
    ImportItem item;
    item.id = e.id;
    item.title = e.title;
    store::Entry stored;
    Status s = e.id.empty() ? Status::NotFound("") : store_->Get(e.id, &stored);
    if (!s.ok() && !s.IsNotFound()) return s;
    item.exists = s.ok();
    if (item.exists) {
      if (on_conflict == OnConflict::kError)
        return LineError(where[i], "an entry with id " + e.id +
                                       " already exists (use --strategy skip, replace or merge)");
      item.changed = ChangedFields(e, stored);
      item.action = ConflictAction(on_conflict, item.changed.empty());
    }
    items->push_back(std::move(item));
  }
  return Status::OK();
}

Status EngineImpl::ImportOne(store::Entry* e, const std::string& where, ImportAction action) {
  Status s;
  if (action == ImportAction::kAdd && e->id.empty()) {
    s = store_->Add(e, nullptr);
    return s.IsInvalidArgument() ? LineError(where, s.message()) : s;
  }
  if (action == ImportAction::kReplace) return ReplaceOne(*e, where);
  if (action == ImportAction::kMerge) {
    // Rekall's merge: the file's entry as a new one beside the stored one,
    // created when it was, updated now.
    e->id = NewUlid();
    e->updated_at = NowIsoLocal();
  }
  // Entries with an id keep their timestamps; an export always has both.
  if (e->created_at.empty()) e->created_at = NowIsoLocal();
  if (e->updated_at.empty()) e->updated_at = e->created_at;
  s = store_->InsertRaw(*e);
  return s.IsInvalidArgument() ? LineError(where, s.message()) : s;
}

// Rewrites the stored entry in place (never delete and insert): its links,
// the entries that point at it and the columns the file lacks stay. A
// summary vector of other text is dropped (the import puts the new one when
// it embeds; otherwise `index rebuild` does).
Status EngineImpl::ReplaceOne(const store::Entry& e, const std::string& where) {
  store::Entry old;
  Status s = store_->Get(e.id, &old);
  if (s.ok()) s = store_->ReplaceRaw(e);
  if (!s.ok()) return s.IsInvalidArgument() ? LineError(where, s.message()) : s;
  if (store::SummaryText(old) == store::SummaryText(e) || !store_->schema().has_embeddings_table) return s;
  if (!(s = store_->DeleteEmbedding(e.id, EmbeddingType::kSummary)).ok()) return s;
  return index_ ? index_->Remove(e.id) : Status::OK();
}

Status EngineImpl::WriteImport(std::vector<store::Entry>* entries, const std::vector<std::string>& where,
                               OnConflict on_conflict, const std::vector<float>* vecs, ImportReport* report) {
  // Two passes in one transaction: every entry first without its
  // superseded_by, then the pointers, so a file in any order (a chain written
  // newest first, a cycle) imports; the foreign key is still checked.
  return store_->WithTransaction([&]() -> Status {
    Status t = PlanImport(*entries, where, on_conflict, &report->items);
    if (!t.ok()) return t;
    for (size_t i = 0; i < entries->size(); ++i) {
      ImportAction action = report->items[i].action;
      if (action == ImportAction::kSkip) {
        ++report->skipped;
        continue;
      }
      store::Entry e = (*entries)[i];
      e.superseded_by.reset();
      t = ImportOne(&e, where[i], action);
      if (t.ok() && vecs) t = store_->PutSummary(e, Row(*vecs, i));
      if (!t.ok()) return t;
      (*entries)[i].id = e.id;
      ++(action == ImportAction::kAdd ? report->added : action == ImportAction::kReplace ? report->replaced
                                                                                          : report->merged);
    }
    for (size_t i = 0; i < entries->size(); ++i) {
      const auto& e = (*entries)[i];
      if (report->items[i].action == ImportAction::kSkip || !e.superseded_by) continue;
      t = store_->SetSupersededBy(e.id, *e.superseded_by);
      if (!t.ok()) return t.IsInvalidArgument() ? LineError(where[i], t.message()) : t;
    }
    return Status::OK();
  });
}

Status EngineImpl::Import(std::istream& in, const ImportRequest& req, ImportReport* report) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  *report = ImportReport();
  std::vector<store::Entry> entries;
  std::vector<std::string> where;
  Status s = ParseImport(in, req.format, &entries, &where, report);
  if (!s.ok()) return s;
  if (req.dry_run) {
    if (!(s = SyncWithOtherWriters()).ok()) return s;
    if (!(s = PlanImport(entries, where, req.on_conflict, &report->items)).ok()) return s;
    for (const auto& item : report->items)
      ++(item.action == ImportAction::kAdd       ? report->added
         : item.action == ImportAction::kReplace ? report->replaced
         : item.action == ImportAction::kMerge   ? report->merged
                                                 : report->skipped);
    return Status::OK();
  }

  bool can_embed = req.embed && store_->schema().has_embeddings_table && provider_->CheckAvailable().ok();
  std::vector<float> vecs;
  if (can_embed && !entries.empty()) {
    if (!(s = EmbedEntries(entries, &vecs, req.progress)).ok()) return s;
    if (!(s = EnsureIndex()).ok()) return s;
  } else if (!entries.empty() && req.embed) {
    report->notice = "imported without embeddings (" + provider_->CheckAvailable().message() +
                     "); run `rekall index rebuild` once the model is installed";
  }
  if (!(s = SyncWithOtherWriters()).ok()) return s;
  s = WriteImport(&entries, where, req.on_conflict, can_embed ? &vecs : nullptr, report);
  entry_cache_->Clear();
  if (!s.ok()) {
    ImportReport failed;
    failed.notice = report->notice;
    *report = failed;
    if (index_) index_->MarkStale();
    return s;
  }
  store_->DataVersion(&data_version_);
  return Status::OK();
}

Status EngineImpl::ExportRekall(const std::vector<store::Entry>& newest_first, ExchangeFormat format,
                                std::string* out) {
  if (format == ExchangeFormat::kMarkdown) {
    std::string generated = NowIsoLocal().substr(0, 16);  // YYYY-MM-DDTHH:MM
    generated[10] = ' ';
    *out = ReplaceInvalidUtf8(RekallMarkdown(newest_first, generated), nullptr);
    return Status::OK();
  }
  std::string entries_json = RekallEntriesJson(newest_first, nullptr);
  if (format == ExchangeFormat::kRekallJson) {
    *out = std::move(entries_json);
    return Status::OK();
  }
  return WriteRekallArchive(RekallManifestJson(newest_first, entries_json, NowIsoLocal()), entries_json, out);
}

Status EngineImpl::Export(std::ostream& out, ExchangeFormat format, const store::ListFilter& only, size_t* exported,
                          std::string* notice) {
  store::ListFilter f = only;
  f.include_obsolete = true;  // the store filters only on what is set
  f.limit = 0;
  Status s = store::ValidateFilter(f);
  if (!s.ok()) return s;
  std::lock_guard<std::recursive_mutex> l(mu_);
  std::vector<store::Entry> all;
  s = store_->List(f, &all);
  if (!s.ok()) return s;
  // JSON Lines oldest first, so an import replays the history in order;
  // Rekall's formats newest first, as Rekall lists them.
  std::sort(all.begin(), all.end(), [](const store::Entry& a, const store::Entry& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  size_t replaced = 0;
  if (format == ExchangeFormat::kJsonLines) {
    for (const auto& e : all) {
      bool r = false;
      out << DumpJson(store::EntryToJson(e), -1, &r) << '\n';
      replaced += r;
    }
  } else {
    std::reverse(all.begin(), all.end());
    std::string bytes;
    if (!(s = ExportRekall(all, format, &bytes)).ok()) return s;
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    replaced = CountInvalidUtf8(all);
  }
  out.flush();
  if (!out) return Status::IOError("writing the export failed");
  *exported = all.size();
  if (replaced) *notice = InvalidUtf8Notice(replaced);
  return Status::OK();
}

}  // namespace rekall
