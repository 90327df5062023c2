// MappedArray: a growable array of plain values in pages of its own,
// mapped from the system (anonymous mmap), not taken from malloc.
//
// Why. The server's keyword index (store/keyword_index.h) is built on a
// thread of its own, so malloc held it in that thread's arena, and when the
// index was let go at idle its pages stayed with the process: glibc's
// malloc_trim() gives back the free pages of a thread arena's bins but not
// its top (idle RSS 21.4 MB against 17.2 before the index, soak at 10K).
// Pages of its own go back to the system the moment the array is freed,
// whatever thread made it. Growing remaps the pages (mremap on Linux)
// instead of copying them, so a growing array never holds two copies, and
// room reserved but never written costs no memory.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <new>
#include <type_traits>
#include <utility>

namespace rekall {

template <typename T>
class MappedArray {
  static_assert(std::is_trivially_copyable_v<T>, "MappedArray holds plain values (copied as bytes)");

 public:
  MappedArray() = default;
  ~MappedArray() { Free(); }
  MappedArray(MappedArray&& o) noexcept { *this = std::move(o); }
  MappedArray& operator=(MappedArray&& o) noexcept {
    if (this != &o) {
      Free();
      std::swap(data_, o.data_);
      std::swap(size_, o.size_);
      std::swap(cap_, o.cap_);
      std::swap(written_, o.written_);
    }
    return *this;
  }
  MappedArray(const MappedArray&) = delete;
  MappedArray& operator=(const MappedArray&) = delete;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T* data() { return data_; }
  const T* data() const { return data_; }
  T& operator[](size_t i) { return data_[i]; }
  const T& operator[](size_t i) const { return data_[i]; }
  T& back() { return data_[size_ - 1]; }
  const T& back() const { return data_[size_ - 1]; }

  // `v` and `p` may point into this array: copied before the pages move.
  void push_back(const T& v) {
    const T copy = v;
    if (size_ == cap_) Grow(size_ + 1);
    data_[size_++] = copy;
    if (size_ > written_) written_ = size_;
  }
  void append(const T* p, size_t n) {
    if (n == 0) return;
    if (size_ + n > cap_ && p >= data_ && p < data_ + size_) {
      const size_t at = static_cast<size_t>(p - data_);
      Grow(size_ + n);
      p = data_ + at;
    } else if (size_ + n > cap_) {
      Grow(size_ + n);
    }
    std::memcpy(static_cast<void*>(data_ + size_), p, n * sizeof(T));
    size_ += n;
    if (size_ > written_) written_ = size_;
  }
  void pop_back() { --size_; }
  // New elements are zero bytes; shrinking keeps the pages.
  void resize(size_t n) {
    if (n > cap_) Grow(n);
    if (n > size_) std::memset(static_cast<void*>(data_ + size_), 0, (n - size_) * sizeof(T));
    size_ = n;
    if (size_ > written_) written_ = size_;
  }
  // Gives every page back.
  void reset() { Free(); }

  // Memory it holds: the pages written so far (those reserved but never
  // touched are not backed by memory).
  size_t MemoryBytes() const { return RoundToPages(written_ * sizeof(T)); }

 private:
  static size_t PageBytes() {
    static const size_t page = size_t(sysconf(_SC_PAGESIZE));
    return page;
  }
  static size_t RoundToPages(size_t bytes) {
    const size_t page = PageBytes();
    return (bytes + page - 1) / page * page;
  }
  // Room for at least `need` elements, doubling; std::bad_alloc as a
  // std::vector would throw when the system has no more.
  void Grow(size_t need) {
    size_t cap = cap_ ? cap_ * 2 : PageBytes() / sizeof(T);
    if (cap < need) cap = need;
    const size_t old_bytes = RoundToPages(cap_ * sizeof(T));
    const size_t bytes = RoundToPages(cap * sizeof(T));
    void* p = MAP_FAILED;
#if defined(MREMAP_MAYMOVE)
    if (data_) p = mremap(data_, old_bytes, bytes, MREMAP_MAYMOVE);
#endif
    if (p == MAP_FAILED) {
      p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
      if (data_) {
        std::memcpy(p, static_cast<const void*>(data_), size_ * sizeof(T));
        munmap(static_cast<void*>(data_), old_bytes);
      }
    }
    data_ = static_cast<T*>(p);
    cap_ = bytes / sizeof(T);
  }
  void Free() {
    if (data_) munmap(static_cast<void*>(data_), RoundToPages(cap_ * sizeof(T)));
    data_ = nullptr;
    size_ = cap_ = written_ = 0;
  }

  T* data_ = nullptr;
  size_t size_ = 0;
  size_t cap_ = 0;
  size_t written_ = 0;  // the most elements it ever held: the pages touched
};

}  // namespace rekall
