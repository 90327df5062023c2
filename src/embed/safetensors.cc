#include "embed/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

namespace rekall::embed {
namespace {

size_t DtypeSize(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

std::string ShapeString(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

// The header is untrusted: a huge length must not make us allocate or read
// past the file. Real headers are a few tens of KB.
constexpr uint64_t kMaxHeader = 100u << 20;

}  // namespace

Status SafeTensors::Open(const std::string& path, std::unique_ptr<SafeTensors>* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string m = path + ": " + std::strerror(e);
    return e == ENOENT ? Status::NotFound(m) : Status::IOError(m);
  }
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    std::string m = path + ": fstat: " + std::strerror(errno);
    ::close(fd);
    return Status::IOError(m);
  }
  size_t size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    return Status::Corruption(path + ": truncated safetensors file (" + std::to_string(size) + " bytes)");
  }
  void* base = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file alive
  if (base == MAP_FAILED) return Status::IOError(path + ": mmap: " + std::strerror(errno));

  std::unique_ptr<SafeTensors> t(new SafeTensors());
  t->path_ = path;
  t->base_ = base;
  t->size_ = size;

  const auto* bytes = static_cast<const unsigned char*>(base);
  uint64_t hlen = 0;
  for (int i = 7; i >= 0; --i) hlen = (hlen << 8) | bytes[i];  // little-endian u64
  if (hlen == 0 || hlen > kMaxHeader || hlen > size - 8) {
    return Status::Corruption(path + ": bad safetensors header length " + std::to_string(hlen) + " for a file of " +
                              std::to_string(size) + " bytes");
  }
  const char* hbegin = static_cast<const char*>(base) + 8;
  nlohmann::json header = nlohmann::json::parse(hbegin, hbegin + hlen, nullptr, /*allow_exceptions=*/false);
  if (header.is_discarded() || !header.is_object()) {
    return Status::Corruption(path + ": safetensors header is not a JSON object");
  }
  const size_t data_start = 8 + static_cast<size_t>(hlen);
  const size_t data_size = size - data_start;
  for (auto it = header.begin(); it != header.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const auto& v = it.value();
    const std::string where = path + ": tensor '" + it.key() + "': ";
    if (!v.is_object() || !v.contains("dtype") || !v["dtype"].is_string() || !v.contains("shape") ||
        !v["shape"].is_array() || !v.contains("data_offsets") || !v["data_offsets"].is_array() ||
        v["data_offsets"].size() != 2) {
      return Status::Corruption(where + "malformed entry");
    }
    Entry e;
    e.dtype = v["dtype"].get<std::string>();
    size_t esize = DtypeSize(e.dtype);
    if (esize == 0) return Status::Corruption(where + "unknown dtype " + e.dtype);
    uint64_t numel = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) return Status::Corruption(where + "bad shape");
      uint64_t n = d.get<uint64_t>();
      if (n != 0 && numel > (uint64_t{1} << 48) / n) return Status::Corruption(where + "shape too large");
      numel *= n;
      e.shape.push_back(static_cast<int64_t>(n));
    }
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) {
      return Status::Corruption(where + "bad data_offsets");
    }
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (b > en || en > data_size) {
      return Status::Corruption(where + "data_offsets [" + std::to_string(b) + ", " + std::to_string(en) +
                                "] outside the " + std::to_string(data_size) + " data bytes (file truncated?)");
    }
    if (en - b != numel * esize) {
      return Status::Corruption(where + "byte size " + std::to_string(en - b) + " does not match shape " +
                                ShapeString(e.shape) + " of " + e.dtype);
    }
    e.begin = data_start + b;
    e.end = data_start + en;
    t->entries_.emplace(it.key(), std::move(e));
  }
  *out = std::move(t);
  return Status::OK();
}

SafeTensors::~SafeTensors() {
  if (base_ != nullptr) ::munmap(base_, size_);
}

void SafeTensors::DropPages(const void* p, size_t bytes) {
  const auto begin = reinterpret_cast<uintptr_t>(p), base = reinterpret_cast<uintptr_t>(base_);
  if (base_ == nullptr || begin < base || begin + bytes > base + size_) return;
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  const uintptr_t first = (begin + page - 1) / page * page, last = (begin + bytes) / page * page;
  if (first < last) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

Status SafeTensors::GetF32(const std::string& name, const std::vector<int64_t>& shape, const float** out) {
  auto it = entries_.find(name);
  if (it == entries_.end()) return Status::Corruption(path_ + ": missing tensor '" + name + "'");
  const Entry& e = it->second;
  if (e.dtype != "F32") {
    return Status::Corruption(path_ + ": tensor '" + name + "' has dtype " + e.dtype + ", expected F32");
  }
  if (e.shape != shape) {
    return Status::Corruption(path_ + ": tensor '" + name + "' has shape " + ShapeString(e.shape) + ", expected " +
                              ShapeString(shape));
  }
  const char* p = static_cast<const char*>(base_) + e.begin;
  if (reinterpret_cast<uintptr_t>(p) % alignof(float) != 0) {
    size_t n = (e.end - e.begin) / sizeof(float);
    aligned_copies_.emplace_back(new float[n]);
    std::memcpy(aligned_copies_.back().get(), p, e.end - e.begin);
    *out = aligned_copies_.back().get();
  } else {
    *out = reinterpret_cast<const float*>(p);
  }
  return Status::OK();
}

}  // namespace rekall::embed
