// UTF-8 checks applied to every text a user gives us, before it is stored.
#pragma once

#include <string>
#include <string_view>

namespace rekall {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);

// Byte offset of the first malformed sequence, or npos.
size_t FirstInvalidUtf8(std::string_view s);

}  // namespace rekall
