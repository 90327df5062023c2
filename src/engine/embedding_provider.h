// EmbeddingProvider: where the engine gets sentence embeddings. The real one
// wraps the model manager (lazy load, idle unload); tests give a fake one so
// the engine's logic is tested without the 90 MB model.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "util/status.h"

namespace rekall {

// Where the model is. kMissing: its files are not there (nothing to load).
enum class ModelState { kUnloaded, kLoading, kLoaded, kMissing };
// "unloaded" | "loading" | "loaded" | "missing" (stats, the server's log).
const char* ModelStateName(ModelState s);

class EmbeddingProvider {
 public:
  virtual ~EmbeddingProvider() = default;
  // Row-major n x dim() unit vectors. Waits at most `max_wait` for a model
  // that is loading (by this or another caller), then returns Unavailable
  // with a "model loading" message.
  virtual Status Embed(const std::vector<std::string>& texts, std::vector<float>* out,
                       std::chrono::milliseconds max_wait) = 0;
  virtual int dim() const = 0;
  virtual ModelState state() const = 0;
  // Blocks while a load is in progress, at most `max_wait`; returns whether
  // no load is in progress any more. Returns at once when none is. The
  // default sleeps `max_wait` when state() is kLoading (for providers
  // without a signal to wait on).
  virtual bool WaitForLoad(std::chrono::milliseconds max_wait);
  // Ok when the model files are present; otherwise says what is missing and
  // how to get it.
  virtual Status CheckAvailable() const = 0;
  // Starts loading in the background (server warm-up); no-op if loaded.
  virtual void WarmUp() {}
  // Frees the model now.
  virtual void Unload() {}
  // How many times the model was loaded (a second concurrent load is a bug).
  virtual int load_count() const { return 0; }
};

// The model manager over the all-MiniLM-L6-v2 files in cfg.model_path (or
// the folder scripts/setup.sh fills), unloaded after the configured idle time.
std::unique_ptr<EmbeddingProvider> NewModelProvider(const config::Config& cfg);

}  // namespace rekall
