#include "sqlite/checkpointer.h"

#include "sqlite/sqlite.h"

namespace rekall::sqlite {

Status Checkpointer::Start(sqlite3* db, const std::string& path, const Options& options,
                           std::unique_ptr<Checkpointer>* out) {
  sqlite3* own = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &own, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status s = ToStatus(own, rc, "opening a checkpoint connection to " + path);
    sqlite3_close_v2(own);
    return s;
  }
  // A checkpoint that finds the lock taken is simply tried at the next
  // threshold; waiting a little spares most of those retries.
  sqlite3_busy_timeout(own, 100);
  std::unique_ptr<Checkpointer> c(new Checkpointer(db, own, options));
  c->thread_ = std::thread([p = c.get()] { p->Loop(); });
  sqlite3_wal_hook(db, &Checkpointer::OnCommit, c.get());
  *out = std::move(c);
  return Status::OK();
}

Checkpointer::~Checkpointer() {
  sqlite3_wal_autocheckpoint(db_, 1000);  // SQLite's default hook again
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  sqlite3_close_v2(own_);
}

int64_t Checkpointer::checkpoints() const {
  std::lock_guard<std::mutex> l(mu_);
  return done_;
}

int Checkpointer::OnCommit(void* self, sqlite3*, const char*, int pages) {
  auto* c = static_cast<Checkpointer*>(self);
  if (pages >= c->opts_.pages) {
    {
      std::lock_guard<std::mutex> l(c->mu_);
      c->wanted_ = true;
    }
    c->cv_.notify_one();
  }
  return SQLITE_OK;
}

void Checkpointer::Loop() {
  std::unique_lock<std::mutex> l(mu_);
  for (;;) {
    cv_.wait(l, [this] { return wanted_ || stop_; });
    if (stop_) return;
    wanted_ = false;
    l.unlock();
    // PASSIVE: copies what no reader still needs, never waits for them.
    const int rc = sqlite3_wal_checkpoint_v2(own_, "main", SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    l.lock();
    if (rc == SQLITE_OK) ++done_;
  }
}

}  // namespace rekall::sqlite
