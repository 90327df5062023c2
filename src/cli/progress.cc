#include "cli/progress.h"

#include <unistd.h>

#include <cstdio>
#include <iostream>

namespace rekall::cli {

Progress::Progress(std::string what, bool enabled)
    : what_(std::move(what)), enabled_(enabled), tty_(isatty(STDERR_FILENO)),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() {
  if (drawn_) std::cerr << std::endl;
}

std::string Progress::Line(const std::string& what, size_t done, size_t total, std::chrono::milliseconds elapsed) {
  constexpr size_t kWidth = 30;
  size_t filled = total ? kWidth * std::min(done, total) / total : kWidth;
  std::string s = "[" + std::string(filled, '#') + std::string(kWidth - filled, ' ') + "] " + std::to_string(done) +
                  "/" + std::to_string(total) + " " + what;
  if (done > 0 && done < total) {
    long left = static_cast<long>(static_cast<double>(elapsed.count()) * static_cast<double>(total - done) /
                                      static_cast<double>(done) / 1000.0 + 0.5);
    char eta[32];
    std::snprintf(eta, sizeof eta, ", %ld:%02ld left", left / 60, left % 60);
    s += eta;
  }
  return s;
}

void Progress::Update(size_t done, size_t total) {
  if (!enabled_) return;
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_);
  std::string line = Line(what_, done, total, elapsed);
  if (tty_) {
    // Padded so a shorter line (the ETA gone) erases the longer one.
    std::cerr << "\r" << line << "        " << std::flush;
    drawn_ = true;
  } else if (done == total) {
    std::cerr << line << std::endl;
  }
}

}  // namespace rekall::cli
