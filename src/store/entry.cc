#include "store/entry.h"

#include <algorithm>
#include <cstring>

#include <utf8proc.h>

#include "store/rekall_values.h"
#include "util/utf8.h"

namespace rekall::store {

bool IsEntryType(const std::string& t) {
  for (const char* x : kEntryTypes)
    if (t == x) return true;
  return false;
}

bool IsStatus(const std::string& s) {
  for (const char* x : kStatuses)
    if (s == x) return true;
  return false;
}

namespace {

Status CheckText(const char* field, const std::string& v, size_t max_bytes) {
  if (v.find('\0') != std::string::npos)
    return Status::InvalidArgument(std::string(field) + " contains a NUL byte");
  size_t bad = FirstInvalidUtf8(v);
  if (bad != std::string::npos)
    return Status::InvalidArgument(std::string(field) + " is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  if (v.size() > max_bytes)
    return Status::InvalidArgument(std::string(field) + " is " + std::to_string(v.size()) +
                                   " bytes; the limit is " + std::to_string(max_bytes) + " bytes");
  return Status::OK();
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string JoinChoices(const char* const* begin, const char* const* end) {
  std::string out;
  for (auto p = begin; p != end; ++p) {
    if (!out.empty()) out += ", ";
    out += *p;
  }
  return out;
}

// Empty: not set yet (the store fills it in before writing).
Status CheckTimestamp(const char* field, const std::string& v) {
  if (v.empty() || IsPythonIsoDatetime(v)) return Status::OK();
  return Status::InvalidArgument(std::string("invalid ") + field + " '" + v +
                                 "' (expected an ISO date and time such as 2026-01-31T09:30:00; Rekall could not read it)");
}

}  // namespace

std::string MemoryTypeOf(const Entry& e) {
  auto mt = e.extra.find("memory_type");
  return mt != e.extra.end() && mt->is_string() ? mt->get<std::string>() : kMemoryTypes[0];
}

Status ValidateEntry(const Entry& e) {
  Status s;
  if (!(s = CheckText("title", e.title, kMaxTitleBytes)).ok()) return s;
  if (Trim(e.title).empty()) return Status::InvalidArgument("title is empty");
  if (!(s = CheckText("content", e.content, kMaxContentBytes)).ok()) return s;
  if (!IsEntryType(e.type))
    return Status::InvalidArgument("invalid type '" + e.type + "' (expected one of: " +
                                   JoinChoices(std::begin(kEntryTypes), std::end(kEntryTypes)) + ")");
  if (e.confidence < 0 || e.confidence > 5)
    return Status::InvalidArgument("invalid confidence " + std::to_string(e.confidence) + " (expected 0 to 5)");
  if (!IsStatus(e.status))
    return Status::InvalidArgument("invalid status '" + e.status + "' (expected active or obsolete)");
  if (e.project && !(s = CheckText("project", *e.project, kMaxTitleBytes)).ok()) return s;
  // Ids are Rekall's ULIDs (26 characters); 64 bytes bounds what a file
  // brought by import may name, as superseded_by names one.
  if (!(s = CheckText("id", e.id, 64)).ok()) return s;
  if (e.superseded_by && !(s = CheckText("superseded_by", *e.superseded_by, 64)).ok()) return s;
  if (e.tags.size() > kMaxTags)
    return Status::InvalidArgument("too many tags (" + std::to_string(e.tags.size()) + "; the limit is " +
                                   std::to_string(kMaxTags) + ")");
  for (const auto& t : e.tags) {
    if (!(s = CheckText("tag", t, kMaxTagBytes)).ok()) return s;
    if (Trim(t).empty()) return Status::InvalidArgument("empty tag");
  }
  if (!(s = CheckTimestamp("created_at", e.created_at)).ok()) return s;
  if (!(s = CheckTimestamp("updated_at", e.updated_at)).ok()) return s;
  if (auto it = e.extra.find("context_structured"); it != e.extra.end() && it->is_string() &&
                                                     it->get_ref<const std::string&>().size() > kMaxContextBytes)
    return Status::InvalidArgument("context too large (" + std::to_string(it->get_ref<const std::string&>().size()) +
                                   " bytes of JSON; the limit is " + std::to_string(kMaxContextBytes) + ")");
  return ValidateRekallColumns(e.extra);
}

Status ValidateFilter(const ListFilter& f) {
  Status s;
  if (f.type && !IsEntryType(*f.type))
    return Status::InvalidArgument("invalid type '" + *f.type + "' (expected one of: " +
                                   JoinChoices(std::begin(kEntryTypes), std::end(kEntryTypes)) + ")");
  if (f.status && !IsStatus(*f.status))
    return Status::InvalidArgument("invalid status '" + *f.status + "' (expected active or obsolete)");
  if (f.project && !(s = CheckText("project", *f.project, kMaxTitleBytes)).ok()) return s;
  if (f.memory_type && *f.memory_type != kMemoryTypes[0] && *f.memory_type != kMemoryTypes[1])
    return Status::InvalidArgument("invalid memory type '" + *f.memory_type + "' (expected episodic or semantic)");
  for (const auto& t : f.tags)
    if (!(s = CheckText("tag", t, kMaxTagBytes)).ok()) return s;
  if (f.limit < 0) return Status::InvalidArgument("limit must be >= 0");
  return Status::OK();
}

ListFilter VisibleFilter(ListFilter f) {
  if (!f.status && !f.include_obsolete) f.status = kActiveStatus;
  return f;
}

Status ValidateQueryText(const std::string& q) {
  Status s = CheckText("query", q, std::string::npos);
  if (s.ok() && Trim(q).empty()) return Status::InvalidArgument("the query is empty");
  return s;
}

void NormalizeTags(std::vector<std::string>* tags) {
  for (auto& t : *tags) t = Trim(t);
  std::sort(tags->begin(), tags->end());
  tags->erase(std::unique(tags->begin(), tags->end()), tags->end());
}

std::string SummaryText(const Entry& e) {
  std::string text = e.title;
  if (!e.content.empty()) text += " " + e.content;
  for (const auto& t : e.tags) text += " " + t;
  // Python slices strings by code point: cut at 8000 code points, not bytes.
  size_t cps = 0, i = 0;
  while (i < text.size()) {
    if (cps == 8000) return text.substr(0, i);
    unsigned char c = static_cast<unsigned char>(text[i]);
    i += c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    ++cps;
  }
  return text;
}

nlohmann::json EntryToJson(const Entry& e) {
  nlohmann::json j;
  j["id"] = e.id;
  j["title"] = e.title;
  j["content"] = e.content;
  j["type"] = e.type;
  j["project"] = e.project ? nlohmann::json(*e.project) : nlohmann::json(nullptr);
  j["confidence"] = e.confidence;
  j["status"] = e.status;
  j["superseded_by"] = e.superseded_by ? nlohmann::json(*e.superseded_by) : nlohmann::json(nullptr);
  j["created_at"] = e.created_at;
  j["updated_at"] = e.updated_at;
  j["tags"] = e.tags;
  if (!e.extra.empty()) j["extra"] = e.extra;
  return j;
}

namespace {

Status GetString(const nlohmann::json& j, const char* key, std::string* out) {
  const auto& v = j.at(key);
  if (!v.is_string()) return Status::InvalidArgument(std::string("field '") + key + "' must be a string");
  *out = v.get<std::string>();
  return Status::OK();
}

Status GetOptString(const nlohmann::json& j, const char* key, std::optional<std::string>* out) {
  const auto& v = j.at(key);
  if (v.is_null()) {
    out->reset();
    return Status::OK();
  }
  if (!v.is_string()) return Status::InvalidArgument(std::string("field '") + key + "' must be a string or null");
  *out = v.get<std::string>();
  return Status::OK();
}

}  // namespace

Status EntryFromJson(const nlohmann::json& j, Entry* e) {
  if (!j.is_object()) return Status::InvalidArgument("an entry must be a JSON object");
  Status s;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& k = it.key();
    if (k == "id" || k == "title" || k == "content" || k == "type" || k == "status" || k == "created_at" ||
        k == "updated_at") {
      std::string v;
      if (!(s = GetString(j, k.c_str(), &v)).ok()) return s;
      if (k == "id") e->id = v;
      else if (k == "title") e->title = v;
      else if (k == "content") e->content = v;
      else if (k == "type") e->type = v;
      else if (k == "status") e->status = v;
      else if (k == "created_at") e->created_at = v;
      else e->updated_at = v;
    } else if (k == "project") {
      if (!(s = GetOptString(j, "project", &e->project)).ok()) return s;
    } else if (k == "superseded_by") {
      if (!(s = GetOptString(j, "superseded_by", &e->superseded_by)).ok()) return s;
    } else if (k == "confidence") {
      if (!it->is_number_integer()) return Status::InvalidArgument("field 'confidence' must be an integer 0 to 5");
      auto c = it->get<int64_t>();
      if (c < 0 || c > 5) return Status::InvalidArgument("invalid confidence " + std::to_string(c) + " (expected 0 to 5)");
      e->confidence = static_cast<int>(c);
    } else if (k == "tags") {
      if (!it->is_array()) return Status::InvalidArgument("field 'tags' must be an array of strings");
      e->tags.clear();
      for (const auto& t : *it) {
        if (!t.is_string()) return Status::InvalidArgument("field 'tags' must be an array of strings");
        e->tags.push_back(t.get<std::string>());
      }
    } else if (k == "extra") {
      if (!it->is_object()) return Status::InvalidArgument("field 'extra' must be an object");
      e->extra = *it;
    } else {
      return Status::InvalidArgument("unknown field '" + k + "'");
    }
  }
  return Status::OK();
}

}  // namespace rekall::store
