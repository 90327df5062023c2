// A progress line for long commands (import, index rebuild): on a terminal a
// bar redrawn in place with the count and an estimate of the time left;
// elsewhere (a log, a pipe) one line when done, so logs stay readable.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace rekall::cli {

class Progress {
 public:
  // `what`: what is counted ("embedded"); `enabled` false: prints nothing
  // (--quiet, --json).
  Progress(std::string what, bool enabled);
  ~Progress();
  void Update(size_t done, size_t total);

  // "[#####     ] 120/400 embedded, 0:42 left": the ETA extrapolates the rate
  // so far; none before the first step.
  static std::string Line(const std::string& what, size_t done, size_t total, std::chrono::milliseconds elapsed);

 private:
  std::string what_;
  bool enabled_;
  bool tty_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace rekall::cli
