#include "util/utf8.h"

#include <utf8proc.h>

namespace rekall {

size_t FirstInvalidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  size_t i = 0;
  while (i < s.size()) {
    utf8proc_int32_t cp;
    utf8proc_ssize_t n = utf8proc_iterate(p + i, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
    if (n <= 0) return i;
    i += static_cast<size_t>(n);
  }
  return std::string_view::npos;
}

bool IsValidUtf8(std::string_view s) { return FirstInvalidUtf8(s) == std::string_view::npos; }

std::string ReplaceInvalidUtf8(std::string_view s, size_t* replaced) {
  std::string out;
  size_t n = 0;
  for (size_t bad = FirstInvalidUtf8(s); bad != std::string_view::npos; bad = FirstInvalidUtf8(s)) {
    out.append(s.substr(0, bad)).append("\xEF\xBF\xBD");
    s.remove_prefix(bad + 1);
    ++n;
  }
  out.append(s);
  if (replaced) *replaced = n;
  return out;
}

}  // namespace rekall
