// ULID identifiers, as Rekall uses for entries and embeddings: 26 Crockford
// base32 characters, 48 bits of milliseconds then 80 random bits, so ids
// sort by creation time.
#pragma once

#include <chrono>
#include <string>

namespace rekall {

std::string NewUlid();
bool IsUlid(const std::string& s);

// Local time as Python's datetime.now().isoformat() writes it, the format of
// Rekall's created_at/updated_at columns: 2025-06-01T09:00:00.123456
std::string NowIsoLocal();
// The same for time `t`.
std::string IsoLocal(std::chrono::system_clock::time_point t);

}  // namespace rekall
