#include "embed/model_manager.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace rekall::embed {

const char* ModelManager::StateName(State s) {
  switch (s) {
    case State::kUnloaded: return "unloaded";
    case State::kLoading: return "loading";
    case State::kLoaded: return "loaded";
  }
  return "unknown";
}

ModelManager::ModelManager(ModelManagerOptions options) : options_(std::move(options)) {
  last_use_ = options_.env->NowSteady();
  if (options_.idle_timeout.count() > 0) reaper_ = std::thread([this] { ReaperThread(); });
}

ModelManager::~ModelManager() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  reaper_cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  if (loader_.joinable()) loader_.join();
}

ModelManager::State ModelManager::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

uint64_t ModelManager::load_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return started_loads_;
}

void ModelManager::StartLoadLocked() {
  // Only called when unloaded, so a previous loader thread has finished.
  if (loader_.joinable()) loader_.join();
  state_ = State::kLoading;
  const uint64_t generation = ++started_loads_;
  loader_ = std::thread([this, generation] { LoadThread(generation); });
}

void ModelManager::LoadThread(uint64_t generation) {
  std::unique_ptr<Embedder> e;
  Status s = options_.loader ? options_.loader(&e) : Embedder::Load(options_.model_dir, options_.embedder, &e);
  if (s.ok() && e == nullptr) s = Status::Internal("model loader returned no model");
  {
    std::lock_guard<std::mutex> lock(mu_);
    finished_loads_ = generation;
    if (s.ok()) {
      model_ = std::move(e);
      state_ = State::kLoaded;
      last_use_ = options_.env->NowSteady();
    } else {
      last_error_ = s;
      failed_load_ = generation;
      state_ = State::kUnloaded;
    }
  }
  loaded_cv_.notify_all();
  reaper_cv_.notify_all();
}

void ModelManager::TryStartBackgroundLoad() {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == State::kUnloaded && !stop_) StartLoadLocked();
}

Status ModelManager::Acquire(std::chrono::milliseconds max_wait, std::shared_ptr<const Embedder>* out,
                             bool mark_active) {
  std::unique_lock<std::mutex> lock(mu_);
  if (state_ == State::kUnloaded) StartLoadLocked();
  if (state_ == State::kLoading) {
    const uint64_t generation = started_loads_;
    if (!loaded_cv_.wait_for(lock, max_wait, [&] { return finished_loads_ >= generation; })) {
      return Status::Unavailable("model loading, not ready after " + std::to_string(max_wait.count()) +
                                 " ms: retry later");
    }
    if (state_ != State::kLoaded) {
      // Our load, or a retry a later caller started before we woke, failed:
      // either way the latest finished load's error is the answer.
      if (failed_load_ >= generation && failed_load_ == finished_loads_) return last_error_;
      return Status::Unavailable("model unloaded right after loading: retry");
    }
  }
  *out = model_;
  last_use_ = options_.env->NowSteady();
  if (mark_active) ++active_calls_;
  return Status::OK();
}

Status ModelManager::EnsureLoaded(std::chrono::milliseconds max_wait) {
  std::shared_ptr<const Embedder> e;
  return Acquire(max_wait, &e, /*mark_active=*/false);
}

Status ModelManager::Embed(const std::vector<std::string>& texts, std::vector<float>* out,
                           std::chrono::milliseconds max_wait) {
  std::shared_ptr<const Embedder> e;
  // Acquire marks the call busy under the same lock so the reaper cannot
  // unload in between; the shared_ptr keeps the model alive through an
  // explicit Unload().
  Status acquired = Acquire(max_wait, &e, /*mark_active=*/true);
  if (!acquired.ok()) return acquired;
  Status s = e->Embed(texts, out);
  {
    std::lock_guard<std::mutex> lock(mu_);
    --active_calls_;
    last_use_ = options_.env->NowSteady();
  }
  reaper_cv_.notify_all();
  return s;
}

void ModelManager::UnloadLocked(std::unique_lock<std::mutex>& lock) {
  if (state_ != State::kLoaded) return;
  std::shared_ptr<const Embedder> dying = std::move(model_);
  state_ = State::kUnloaded;
  // Destroy (munmap the weights) outside the lock, then hand freed heap pages
  // back to the kernel so the RSS actually falls.
  lock.unlock();
  dying.reset();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  lock.lock();
}

void ModelManager::Unload() {
  std::unique_lock<std::mutex> lock(mu_);
  UnloadLocked(lock);
}

bool ModelManager::IdleLocked() const {
  return state_ == State::kLoaded && active_calls_ == 0 && options_.idle_timeout.count() > 0 &&
         options_.env->NowSteady() >= last_use_ + options_.idle_timeout;
}

void ModelManager::UnloadIfIdle() {
  std::unique_lock<std::mutex> lock(mu_);
  if (IdleLocked()) UnloadLocked(lock);
}

void ModelManager::ReaperThread() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stop_) {
    if (state_ != State::kLoaded) {
      reaper_cv_.wait(lock);
      continue;
    }
    if (IdleLocked()) {
      UnloadLocked(lock);
      continue;
    }
    // Sleeps until the idle deadline (or a change); a busy manager pays one
    // notify per call, nothing more.
    if (active_calls_ > 0) reaper_cv_.wait(lock);
    else reaper_cv_.wait_for(lock, last_use_ + options_.idle_timeout - options_.env->NowSteady());
  }
}

}  // namespace rekall::embed
