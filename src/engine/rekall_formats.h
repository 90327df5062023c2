// Rekall's exchange formats, as text: the JSON array of entries that is both
// its JSON export and the `entries.json` of its `.rekall.zip` archive, the
// archive's `manifest.json`, and its Markdown export. Pure functions over
// entries; the zip container itself is rekall_archive.h, and what an import
// does with the entries is the engine's (import_export.cc).
//
// Rekall checks an archive by the SHA-256 of the entries.json bytes, so the
// text we write must be exactly what we checksum; and since Rekall writes it
// with Python's json.dumps(indent=2, ensure_ascii=False), we write the same
// layout, which nlohmann's dump(2) with keys in insertion order matches
// (tests/compat checks this against an archive Rekall wrote).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/entry.h"
#include "util/status.h"

namespace rekall {

// The version of the archive format Rekall writes and accepts.
inline constexpr const char* kRekallArchiveVersion = "1.0";
// The Rekall version our archives name (the one whose format we follow).
inline constexpr const char* kRekallArchiveWriter = "0.3.0";

// The JSON array of `entries` in Rekall's layout: the 16 keys of each entry
// in Rekall's order, 2-space indent, raw UTF-8, no trailing newline. Bytes
// of stored texts that are not valid UTF-8 become U+FFFD; *replaced says so.
std::string RekallEntriesJson(const std::vector<store::Entry>& entries, bool* replaced);

// Reads such an array (Rekall's JSON export, or an archive's entries.json)
// into entries. Each element must be an object of Rekall's keys: id, title
// and type are required; the others default as Rekall's reader defaults
// them. Rekall's columns beyond our Entry fields (memory_type,
// last_accessed, access_count, consolidation_score, next_review) go to
// Entry::extra. The message of an error names the element ("entry 3").
Status RekallEntriesFromJson(std::string_view text, std::vector<store::Entry>* out);

// manifest.json for an archive whose entries.json is `entries_json`.
// `created_at` is a naive ISO timestamp (the export's time).
std::string RekallManifestJson(const std::vector<store::Entry>& entries, const std::string& entries_json,
                               const std::string& created_at);

// What an import tells of an archive.
struct RekallManifestInfo {
  std::string format_version;
  std::string created_at;
  size_t entries_count = 0;
};

// Checks a manifest as Rekall's import does: every key present, format
// version 1.0, and the checksum equal to the SHA-256 of `entries_json`.
Status CheckRekallManifest(std::string_view manifest_json, std::string_view entries_json, RekallManifestInfo* info);

// "sha256:" and the lowercase hex digest of `data`, as the manifest holds it.
std::string RekallChecksum(std::string_view data);

// Rekall's Markdown export: a heading, `generated` (YYYY-MM-DD HH:MM), the
// count, then one section per type (alphabetical), each entry with its id,
// confidence as stars, project, tags, creation date, status when obsolete,
// and its content.
std::string RekallMarkdown(const std::vector<store::Entry>& entries, const std::string& generated);

}  // namespace rekall
