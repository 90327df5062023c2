#include "embed/rss.h"

#include <cstdio>
#include <cstring>

namespace rekall::embed {
namespace {

size_t ReadStatusKb(const char* key) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  size_t kb = 0;
  const size_t klen = std::strlen(key);
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, key, klen) == 0 && line[klen] == ':') {
      unsigned long long v = 0;
      if (std::sscanf(line + klen + 1, "%llu", &v) == 1) kb = static_cast<size_t>(v);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

}  // namespace

size_t CurrentRssBytes() { return ReadStatusKb("VmRSS"); }
size_t PeakRssBytes() { return ReadStatusKb("VmHWM"); }

}  // namespace rekall::embed
