// Env: what the engine asks of the operating system — environment
// variables, files and folders, clocks, this process's memory — behind one
// interface, in the spirit of LevelDB's Env. Components take an Env* in
// their options (default: Env::Default()), so a test swaps in a fake (an
// EnvWrapper overriding a few calls) instead of setting global variables,
// changing the working directory or sleeping on the wall clock.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

#include "util/status.h"

namespace rekall {

class Env {
 public:
  Env() = default;
  virtual ~Env();
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

  // The real environment of this process, shared and never deleted.
  static Env* Default();

  // The value of environment variable `name`; "" when unset (an empty value
  // counts as unset everywhere we read one).
  virtual std::string GetEnv(const std::string& name) = 0;

  // Something exists at `path` (a file, a folder, ...).
  virtual bool FileExists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  virtual bool IsRegularFile(const std::string& path) = 0;
  // `path` itself is a symbolic link (whether or not its target exists).
  virtual bool IsSymlink(const std::string& path) = 0;
  // This process may read / write `path` now (access(2)).
  virtual bool CanRead(const std::string& path) = 0;
  virtual bool CanWrite(const std::string& path) = 0;
  // Creates `dir` and its missing parents with `mode` (e.g. 0700: knowledge
  // is private). A folder that already exists is fine.
  virtual Status CreateDirs(const std::string& dir, int mode) = 0;
  // Creates an empty file with `mode` (less the umask, which can only take
  // permissions away: 0600 stays private), failing if anything exists at
  // `path`. Errors read "<path>: <reason>".
  virtual Status CreateNewFile(const std::string& path, int mode) = 0;
  // Sets the permission bits of the existing file `path` (chmod).
  virtual Status ChangeMode(const std::string& path, int mode) = 0;
  // Flushes `path` to the disk (fsync).
  virtual Status SyncFile(const std::string& path) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;

  // Monotonic time, for timeouts and idle times.
  virtual std::chrono::steady_clock::time_point NowSteady() = 0;
  // Wall-clock time, for timestamps people read.
  virtual std::chrono::system_clock::time_point NowSystem() = 0;

  // Resident memory of this process now (VmRSS) and at its peak (VmHWM), in
  // bytes; 0 when the system does not tell (Linux's /proc/self/status).
  virtual size_t CurrentRssBytes() = 0;
  virtual size_t PeakRssBytes() = 0;

  // Gives the calling thread (and the threads it starts) the lowest CPU
  // priority (nice 19), for background work that must not slow down
  // requests. Best effort: false when the system refuses.
  virtual bool LowerThreadPriority() = 0;
};

// Forwards every call to another Env: a fake overrides only what it fakes.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  std::string GetEnv(const std::string& name) override { return target_->GetEnv(name); }
  bool FileExists(const std::string& path) override { return target_->FileExists(path); }
  bool IsDirectory(const std::string& path) override { return target_->IsDirectory(path); }
  bool IsRegularFile(const std::string& path) override { return target_->IsRegularFile(path); }
  bool IsSymlink(const std::string& path) override { return target_->IsSymlink(path); }
  bool CanRead(const std::string& path) override { return target_->CanRead(path); }
  bool CanWrite(const std::string& path) override { return target_->CanWrite(path); }
  Status CreateDirs(const std::string& dir, int mode) override { return target_->CreateDirs(dir, mode); }
  Status CreateNewFile(const std::string& path, int mode) override { return target_->CreateNewFile(path, mode); }
  Status ChangeMode(const std::string& path, int mode) override { return target_->ChangeMode(path, mode); }
  Status SyncFile(const std::string& path) override { return target_->SyncFile(path); }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  std::chrono::steady_clock::time_point NowSteady() override { return target_->NowSteady(); }
  std::chrono::system_clock::time_point NowSystem() override { return target_->NowSystem(); }
  size_t CurrentRssBytes() override { return target_->CurrentRssBytes(); }
  size_t PeakRssBytes() override { return target_->PeakRssBytes(); }
  bool LowerThreadPriority() override { return target_->LowerThreadPriority(); }

 private:
  Env* target_;
};

}  // namespace rekall
