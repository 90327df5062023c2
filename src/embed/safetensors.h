// Read-only view of a .safetensors file: the file is mmap'ed, the JSON header
// validated (length, dtypes, shapes, offsets inside the file) and tensors are
// handed out as pointers into the mapping, so loading copies nothing and the
// kernel pages weights in on first use. Destroying the object unmaps the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/status.h"

namespace rekall::embed {

class SafeTensors {
 public:
  struct Entry {
    std::string dtype;           // "F32", "I64", ...
    std::vector<int64_t> shape;
    size_t begin = 0, end = 0;   // byte offsets from the start of the file
  };

  // Maps `path` and validates its header. Every error names the file.
  static Status Open(const std::string& path, std::unique_ptr<SafeTensors>* out);
  ~SafeTensors();
  SafeTensors(const SafeTensors&) = delete;
  SafeTensors& operator=(const SafeTensors&) = delete;

  // The F32 tensor `name`, which must have exactly `shape`. The pointer stays
  // valid as long as this object lives.
  Status GetF32(const std::string& name, const std::vector<int64_t>& shape, const float** out);

  // Tells the kernel that the bytes [p, p + bytes) of the mapping will not be
  // read again (the bf16 embedder keeps its own copy of the weights): the
  // whole pages inside the range leave the process's memory. A range outside
  // the mapping (an aligned copy) is left alone. Reading it again afterwards
  // is still correct: the pages come back from the file.
  void DropPages(const void* p, size_t bytes);

  const std::map<std::string, Entry>& entries() const { return entries_; }
  const std::string& path() const { return path_; }
  size_t file_size() const { return size_; }

 private:
  SafeTensors() = default;
  std::string path_;
  void* base_ = nullptr;
  size_t size_ = 0;
  std::map<std::string, Entry> entries_;
  // Copies of F32 tensors whose offset is not 4-byte aligned (the format
  // does not promise alignment; HF's writer pads, others may not).
  std::vector<std::unique_ptr<float[]>> aligned_copies_;
};

}  // namespace rekall::embed
