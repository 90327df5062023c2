// Test-only: an Env with its own environment variables, folders that exist
// or not as the test says, and clocks that move only when told, so tests
// touch no global state and never wait for time to pass. Everything else
// (files, memory) is the real thing.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>

#include "util/env.h"

namespace rekall {

class FakeEnv : public EnvWrapper {
 public:
  FakeEnv() : EnvWrapper(Env::Default()) {}

  // Only the variables set here exist; the process's own are invisible.
  void SetEnv(const std::string& name, const std::string& value) {
    std::lock_guard<std::mutex> l(mu_);
    vars_[name] = value;
  }
  void UnsetEnv(const std::string& name) {
    std::lock_guard<std::mutex> l(mu_);
    vars_.erase(name);
  }
  std::string GetEnv(const std::string& name) override {
    std::lock_guard<std::mutex> l(mu_);
    auto it = vars_.find(name);
    return it == vars_.end() ? std::string() : it->second;
  }

  // IsDirectory(path) answers `is_dir` from now on; other paths are real.
  void SetDirectory(const std::string& path, bool is_dir) {
    std::lock_guard<std::mutex> l(mu_);
    dirs_[path] = is_dir;
  }
  bool IsDirectory(const std::string& path) override {
    {
      std::lock_guard<std::mutex> l(mu_);
      auto it = dirs_.find(path);
      if (it != dirs_.end()) return it->second;
    }
    return EnvWrapper::IsDirectory(path);
  }

  // Both clocks start at a fixed point and move only by Advance().
  void Advance(std::chrono::nanoseconds d) { offset_ns_ += d.count(); }
  std::chrono::steady_clock::time_point NowSteady() override {
    return std::chrono::steady_clock::time_point(std::chrono::hours(1000) + std::chrono::nanoseconds(offset_ns_));
  }
  std::chrono::system_clock::time_point NowSystem() override {
    // 2026-01-01T00:00:00Z
    return std::chrono::system_clock::time_point(std::chrono::seconds(1767225600) +
                                                 std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                                     std::chrono::nanoseconds(offset_ns_)));
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::string> vars_;
  std::map<std::string, bool> dirs_;
  std::atomic<int64_t> offset_ns_{0};
};

}  // namespace rekall
