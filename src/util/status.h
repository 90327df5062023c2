// Status: the outcome of an operation that can fail, in the style of LevelDB.
// A Status is cheap to return by value; an ok Status carries no message.
#pragma once

#include <string>
#include <utility>

namespace rekall {

enum class Code {
  kOk = 0,
  kNotFound,         // unknown id, missing file
  kInvalidArgument,  // bad user input: type, confidence, UTF-8, JSON...
  kIOError,          // the file system said no: read-only, full disk...
  kCorruption,       // a file exists but is not what it should be
  kUnavailable,      // a resource is not ready: model loading, extension absent
  kCancelled,        // superseded or cancelled by the caller
  kBusy,             // the database is locked by another process
  kInternal,         // a bug of ours
};

class Status {
 public:
  Status() = default;
  static Status OK() { return Status(); }
  static Status NotFound(std::string m) { return Status(Code::kNotFound, std::move(m)); }
  static Status InvalidArgument(std::string m) { return Status(Code::kInvalidArgument, std::move(m)); }
  static Status IOError(std::string m) { return Status(Code::kIOError, std::move(m)); }
  static Status Corruption(std::string m) { return Status(Code::kCorruption, std::move(m)); }
  static Status Unavailable(std::string m) { return Status(Code::kUnavailable, std::move(m)); }
  static Status Cancelled(std::string m) { return Status(Code::kCancelled, std::move(m)); }
  static Status Busy(std::string m) { return Status(Code::kBusy, std::move(m)); }
  static Status Internal(std::string m) { return Status(Code::kInternal, std::move(m)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  bool IsNotFound() const { return code_ == Code::kNotFound; }
  bool IsInvalidArgument() const { return code_ == Code::kInvalidArgument; }
  bool IsUnavailable() const { return code_ == Code::kUnavailable; }
  bool IsCancelled() const { return code_ == Code::kCancelled; }

  // "not found: no entry with id X"
  std::string ToString() const;

  // Same code, message extended (context added by a caller up the stack).
  Status Append(const std::string& more) const { return Status(code_, message_ + more); }

 private:
  Status(Code c, std::string m) : code_(c), message_(std::move(m)) {}
  Code code_ = Code::kOk;
  std::string message_;
};

const char* CodeName(Code c);

}  // namespace rekall
