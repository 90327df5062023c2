#include "engine/rekall_formats.h"

#include <map>
#include <set>

#include <nettle/sha2.h>

#include <nlohmann/json.hpp>

#include "util/json.h"

namespace rekall {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Rekall's columns that its archive carries beyond our Entry fields, with
// the value its serializer writes when the entry has none.
struct RekallExtraKey {
  const char* key;
  ordered_json fallback;
};
const std::vector<RekallExtraKey>& RekallExtraKeys() {
  static const std::vector<RekallExtraKey> keys = {{"memory_type", "episodic"},
                                                   {"last_accessed", nullptr},
                                                   {"access_count", 0},
                                                   {"consolidation_score", 0.0},
                                                   {"next_review", nullptr}};
  return keys;
}

ordered_json OptString(const std::optional<std::string>& s) { return s ? ordered_json(*s) : ordered_json(nullptr); }

// The stored value of an extra column in the type Rekall's serializer
// writes (a score is always a float: 0 is written 0.0), or the fallback.
ordered_json ExtraValue(const store::Entry& e, const RekallExtraKey& k) {
  auto it = e.extra.find(k.key);
  if (it == e.extra.end() || it->is_null()) return k.fallback;
  if (k.fallback.is_number_float()) return it->is_number() ? ordered_json(it->get<double>()) : k.fallback;
  if (k.fallback.is_number_integer()) return it->is_number_integer() ? ordered_json(it->get<int64_t>()) : k.fallback;
  return it->is_string() ? ordered_json(it->get<std::string>()) : k.fallback;
}

ordered_json EntryToRekallJson(const store::Entry& e) {
  ordered_json o;
  o["id"] = e.id;
  o["title"] = e.title;
  o["type"] = e.type;
  o["content"] = e.content;
  o["project"] = OptString(e.project);
  o["tags"] = e.tags;
  o["confidence"] = e.confidence;
  o["status"] = e.status;
  o["superseded_by"] = OptString(e.superseded_by);
  o["created_at"] = e.created_at;
  o["updated_at"] = e.updated_at;
  for (const auto& k : RekallExtraKeys()) o[k.key] = ExtraValue(e, k);
  return o;
}

Status FieldError(const std::string& key, const char* what) {
  return Status::InvalidArgument("field '" + key + "' must be " + what);
}

Status ReadStringField(const std::string& key, const json& v, store::Entry* e) {
  if (key == "content" && v.is_null()) return Status::OK();  // no content
  if (!v.is_string()) return FieldError(key, "a string");
  const std::string& s = v.get_ref<const std::string&>();
  if (key == "id") e->id = s;
  else if (key == "title") e->title = s;
  else if (key == "type") e->type = s;
  else if (key == "content") e->content = s;
  else if (key == "status") e->status = s;
  else if (key == "created_at") e->created_at = s;
  else e->updated_at = s;
  return Status::OK();
}

Status ReadOptString(const std::string& key, const json& v, std::optional<std::string>* out) {
  if (v.is_null()) out->reset();
  else if (v.is_string()) *out = v.get<std::string>();
  else return FieldError(key, "a string or null");
  return Status::OK();
}

Status ReadTags(const json& v, store::Entry* e) {
  e->tags.clear();
  if (v.is_null()) return Status::OK();
  if (!v.is_array()) return FieldError("tags", "an array of strings");
  for (const auto& t : v) {
    if (!t.is_string()) return FieldError("tags", "an array of strings");
    e->tags.push_back(t.get<std::string>());
  }
  return Status::OK();
}

bool IsRekallExtraKey(const std::string& key) {
  for (const auto& k : RekallExtraKeys())
    if (key == k.key) return true;
  return false;
}

Status ReadField(const std::string& key, const json& v, store::Entry* e) {
  static const std::set<std::string> strings = {"id", "title", "type", "content", "status", "created_at", "updated_at"};
  if (strings.count(key)) return ReadStringField(key, v, e);
  if (key == "project") return ReadOptString(key, v, &e->project);
  if (key == "superseded_by") return ReadOptString(key, v, &e->superseded_by);
  if (key == "tags") return ReadTags(v, e);
  if (key == "confidence") {
    if (!v.is_number_integer()) return FieldError(key, "an integer 0 to 5");
    auto c = v.get<int64_t>();
    if (c < 0 || c > 5) return FieldError(key, "an integer 0 to 5");
    e->confidence = static_cast<int>(c);
    return Status::OK();
  }
  // Checked as Rekall reads them by ValidateEntry (store/rekall_values.h).
  if (IsRekallExtraKey(key)) {
    e->extra[key] = v;
    return Status::OK();
  }
  return Status::InvalidArgument("unknown field '" + key + "'");
}

Status RekallEntryFromJson(const json& j, store::Entry* e) {
  if (!j.is_object()) return Status::InvalidArgument("an entry must be a JSON object");
  for (const char* required : {"title", "type"})
    if (!j.contains(required)) return Status::InvalidArgument(std::string("field '") + required + "' is missing");
  for (auto it = j.begin(); it != j.end(); ++it) {
    Status s = ReadField(it.key(), it.value(), e);
    if (!s.ok()) return s;
  }
  return Status::OK();
}

std::string Capitalized(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

std::string Stars(int confidence) {
  std::string out;
  for (int i = 0; i < 5; ++i) out += i < confidence ? "\u2605" : "\u2606";
  return out;
}

void AppendMarkdownEntry(const store::Entry& e, std::vector<std::string>* lines) {
  lines->push_back("### " + e.title);
  lines->push_back("");
  lines->push_back("- **ID**: `" + e.id + "`");
  lines->push_back("- **Confidence**: " + Stars(e.confidence));
  if (e.project && !e.project->empty()) lines->push_back("- **Project**: " + *e.project);
  if (!e.tags.empty()) {
    std::string tags;
    for (const auto& t : e.tags) tags += (tags.empty() ? "" : ", ") + t;
    lines->push_back("- **Tags**: " + tags);
  }
  lines->push_back("- **Created**: " + e.created_at.substr(0, 10));
  if (e.status == "obsolete") {
    lines->push_back("- **Status**: OBSOLETE");
    if (e.superseded_by) lines->push_back("- **Replaced by**: " + *e.superseded_by);
  }
  lines->push_back("");
  if (!e.content.empty()) {
    lines->push_back(e.content);
    lines->push_back("");
  }
  lines->push_back("---");
  lines->push_back("");
}

}  // namespace

std::string RekallEntriesJson(const std::vector<store::Entry>& entries, bool* replaced) {
  ordered_json arr = ordered_json::array();
  for (const auto& e : entries) arr.push_back(EntryToRekallJson(e));
  return DumpJson(arr, 2, false, replaced);
}

Status RekallEntriesFromJson(std::string_view text, std::vector<store::Entry>* out) {
  json j;
  Status s = ParseJson(text, kMaxJsonDepth, &j);
  if (!s.ok()) return Status::InvalidArgument("malformed JSON (" + s.message() + ")");
  if (!j.is_array()) return Status::InvalidArgument("Rekall's JSON holds an array of entries");
  out->clear();
  out->reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    store::Entry e;
    e.extra = json::object();
    s = RekallEntryFromJson(j[i], &e);
    if (!s.ok()) return Status::InvalidArgument("entry " + std::to_string(i + 1) + ": " + s.message());
    out->push_back(std::move(e));
  }
  return Status::OK();
}

std::string RekallChecksum(std::string_view data) {
  sha256_ctx ctx;
  sha256_init(&ctx);
  sha256_update(&ctx, data.size(), reinterpret_cast<const uint8_t*>(data.data()));
  uint8_t md[SHA256_DIGEST_SIZE];
  sha256_digest(&ctx, sizeof md, md);
  static const char* kHex = "0123456789abcdef";
  std::string out = "sha256:";
  for (size_t i = 0; i < sizeof md; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 15]);
  }
  return out;
}

std::string RekallManifestJson(const std::vector<store::Entry>& entries, const std::string& entries_json,
                               const std::string& created_at) {
  std::set<std::string> projects;
  ordered_json types = ordered_json::object();  // first seen first, as Rekall counts them
  for (const auto& e : entries) {
    if (e.project) projects.insert(*e.project);
    types[e.type] = types.value(e.type, 0) + 1;
  }
  ordered_json m;
  m["format_version"] = kRekallArchiveVersion;
  m["created_at"] = created_at;
  m["rekall_version"] = kRekallArchiveWriter;
  m["checksum"] = RekallChecksum(entries_json);
  m["stats"] = {{"entries_count", entries.size()}, {"projects", projects}, {"types", types}};
  return DumpJson(m, 2, true, nullptr);
}

Status CheckRekallManifest(std::string_view manifest_json, std::string_view entries_json, RekallManifestInfo* info) {
  json m;
  Status s = ParseJson(manifest_json, kMaxJsonDepth, &m);
  if (!s.ok()) return Status::InvalidArgument("invalid manifest.json: " + s.message());
  auto str = [&](const char* key) { return m.is_object() && m.contains(key) && m[key].is_string(); };
  for (const char* key : {"format_version", "created_at", "rekall_version", "checksum"})
    if (!str(key)) return Status::InvalidArgument(std::string("invalid manifest.json: no string '") + key + "'");
  const json* stats = m.contains("stats") ? &m["stats"] : nullptr;
  if (!stats || !stats->is_object() || !stats->contains("entries_count") || !(*stats)["entries_count"].is_number_unsigned() ||
      !stats->contains("projects") || !stats->contains("types"))
    return Status::InvalidArgument("invalid manifest.json: 'stats' lacks entries_count, projects or types");
  info->format_version = m["format_version"].get<std::string>();
  info->created_at = m["created_at"].get<std::string>();
  info->entries_count = (*stats)["entries_count"].get<size_t>();
  if (info->format_version != kRekallArchiveVersion)
    return Status::InvalidArgument("unsupported archive format version " + info->format_version + " (expected " +
                                   kRekallArchiveVersion + ")");
  std::string want = m["checksum"].get<std::string>(), got = RekallChecksum(entries_json);
  if (want != got)
    return Status::InvalidArgument("checksum mismatch, the archive is corrupted (manifest says " + want +
                                   ", entries.json is " + got + ")");
  return Status::OK();
}

std::string RekallMarkdown(const std::vector<store::Entry>& entries, const std::string& generated) {
  std::vector<std::string> lines = {"# Rekall Knowledge Export", "", "Generated: " + generated,
                                    "Total entries: " + std::to_string(entries.size()), "", "---", ""};
  std::map<std::string, std::vector<const store::Entry*>> by_type;
  for (const auto& e : entries) by_type[e.type].push_back(&e);
  for (const auto& [type, list] : by_type) {
    lines.push_back("## " + Capitalized(type) + "s (" + std::to_string(list.size()) + ")");
    lines.push_back("");
    for (const auto* e : list) AppendMarkdownEntry(*e, &lines);
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) out += (i ? "\n" : "") + lines[i];
  return out;
}

}  // namespace rekall
