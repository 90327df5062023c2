// Owns the embedder's lifetime: loads it lazily on first use (or on a
// warm-up request), shares one load among all callers, and unloads it after
// an idle timeout so a long-running process gives the ~90 MB back.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "embed/embedder.h"
#include "util/env.h"
#include "util/status.h"

namespace rekall::embed {

struct ModelManagerOptions {
  std::string model_dir;
  EmbedderOptions embedder;
  // Unload after this long without a call; zero = never.
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(10);
  // Idle time is measured on env->NowSteady() (tests: a fake clock they
  // move, then UnloadIfIdle()).
  Env* env = Env::Default();
  // Replaces Embedder::Load(model_dir, embedder, out) (tests count or delay
  // loads with it).
  std::function<Status(std::unique_ptr<Embedder>*)> loader;
};

class ModelManager {
 public:
  enum class State { kUnloaded, kLoading, kLoaded };
  static const char* StateName(State s);

  explicit ModelManager(ModelManagerOptions options);
  // Waits for a load in progress to end, then frees the model.
  ~ModelManager();
  ModelManager(const ModelManager&) = delete;
  ModelManager& operator=(const ModelManager&) = delete;

  State state() const;

  // Starts a load if none is loaded or loading, then waits for it up to
  // max_wait. A load in progress is never started twice: late callers wait
  // for the same one. Returns Unavailable("model loading ...") when max_wait
  // passes first (the load goes on), or the load's own error if it failed
  // (the state is then back to unloaded and the next call tries again).
  Status EnsureLoaded(std::chrono::milliseconds max_wait);
  // Starts loading in the background if unloaded (warm-up at start); never blocks.
  void TryStartBackgroundLoad();
  // Frees the model now (if a call is embedding, when it finishes). Does not
  // cancel a load in progress.
  void Unload();
  // Frees the model if no call has used it for idle_timeout. A reaper thread
  // does this on its own; a caller that moves a fake clock calls it.
  void UnloadIfIdle();

  // EnsureLoaded(max_wait), then Embedder::Embed.
  Status Embed(const std::vector<std::string>& texts, std::vector<float>* out, std::chrono::milliseconds max_wait);

  // Loads started since construction (for tests and stats).
  uint64_t load_count() const;

 private:
  void StartLoadLocked();
  void LoadThread(uint64_t generation);
  void ReaperThread();
  void UnloadLocked(std::unique_lock<std::mutex>& lock);
  // Loaded, unused, and last used idle_timeout ago or more.
  bool IdleLocked() const;
  // Waits as EnsureLoaded and on success hands out a reference to the model.
  // With mark_active, counts the caller as busy (the reaper waits for it).
  Status Acquire(std::chrono::milliseconds max_wait, std::shared_ptr<const Embedder>* out, bool mark_active);

  const ModelManagerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable loaded_cv_;  // a load finished
  std::condition_variable reaper_cv_;  // state, use or stop changed
  State state_ = State::kUnloaded;
  std::shared_ptr<const Embedder> model_;
  uint64_t started_loads_ = 0;   // generation of the last load started
  uint64_t finished_loads_ = 0;  // generation of the last load finished
  Status last_error_;            // of the last load that failed...
  uint64_t failed_load_ = 0;     // ...and its generation
  int active_calls_ = 0;         // Embed calls in progress (not idle)
  std::chrono::steady_clock::time_point last_use_;
  bool stop_ = false;
  std::thread loader_;
  std::thread reaper_;
};

}  // namespace rekall::embed
