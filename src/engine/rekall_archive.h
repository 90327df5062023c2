// The `.rekall.zip` container: a zip holding manifest.json and entries.json
// (the texts are rekall_formats.h's). Reading is bounded, because an archive
// comes from outside: the archive's size, the number of its members, and each
// member's size as declared and as actually inflated (a zip bomb, or a
// member whose header lies about its size, stops at the bound); each
// member's CRC is checked. The zip code is zlib's minizip, over the bytes in
// memory (the archive is read whole, and written whole before the temporary
// file and rename that every export goes through).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "util/status.h"

namespace rekall {

struct RekallArchiveLimits {
  // The largest archive read, and the largest entries.json inflated: 1 GiB
  // holds a thousand entries of the largest content we store.
  size_t max_archive_bytes = size_t{1} << 30;
  size_t max_entries_json_bytes = size_t{1} << 30;
  // manifest.json is a few hundred bytes.
  size_t max_manifest_bytes = size_t{1} << 20;
  // Rekall writes two members; more than this is no archive of Rekall's.
  size_t max_members = 64;
};

// The two members of the archive in `zip`. InvalidArgument (naming what is
// wrong) for bytes that are no zip, a missing member, a bound passed, or a
// damaged member.
Status ReadRekallArchive(std::string_view zip, const RekallArchiveLimits& limits, std::string* manifest_json,
                         std::string* entries_json);

// A zip of manifest.json then entries.json, deflated, each with mode 0600
// and the current time, as Rekall writes it.
Status WriteRekallArchive(const std::string& manifest_json, const std::string& entries_json, std::string* zip);

}  // namespace rekall
