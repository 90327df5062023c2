// Checkpointer: moves SQLite's WAL checkpoints off a connection's commits.
//
// Why. With WAL, the commit that takes the log past 1,000 pages copies it
// into the database file and waits for an fdatasync: in `rekall serve` on
// the soak store that put 40-70 ms into about one write in 75 (strace -T),
// on top of the request's own time. A long-running server hands that work
// to a thread of its own, on a connection of its own: a PASSIVE checkpoint
// neither waits for nor blocks readers and writers, and the request that
// crossed the threshold returns at once.
#pragma once

#include <sqlite3.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "util/status.h"

namespace rekall::sqlite {

class Checkpointer {
 public:
  struct Options {
    // WAL pages after a commit from which a checkpoint is asked for
    // (SQLite's own automatic checkpoint uses 1,000).
    int pages = 1000;
  };

  // Takes over `db`'s automatic checkpoints: its WAL hook is replaced (the
  // connection no longer checkpoints in its commits) and a thread with its
  // own connection to `path` checkpoints once a commit leaves the log at
  // options.pages or more. `db` must outlive the Checkpointer and be in WAL
  // mode.
  static Status Start(sqlite3* db, const std::string& path, const Options& options,
                      std::unique_ptr<Checkpointer>* out);
  // Gives `db` its automatic checkpoints back, then stops the thread.
  ~Checkpointer();
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;

  // Checkpoints run so far (tests).
  int64_t checkpoints() const;

 private:
  Checkpointer(sqlite3* db, sqlite3* own, const Options& o) : db_(db), own_(own), opts_(o) {}
  static int OnCommit(void* self, sqlite3* db, const char* schema, int pages);
  void Loop();

  sqlite3* const db_;   // the connection whose commits are watched
  sqlite3* const own_;  // the thread's connection
  const Options opts_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool wanted_ = false;
  bool stop_ = false;
  int64_t done_ = 0;
  std::thread thread_;
};

}  // namespace rekall::sqlite
