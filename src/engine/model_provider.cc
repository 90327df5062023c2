#include <sys/stat.h>

#include <thread>

#include "config/resources.h"
#include "embed/model_manager.h"
#include "engine/embedding_provider.h"
#include "util/our_embeddings.h"

namespace rekall {

namespace {

// The model manager behind the EmbeddingProvider interface: lazy load on
// first use, one shared load, unload after the configured idle time.
class ManagedProvider : public EmbeddingProvider {
 public:
  explicit ManagedProvider(const config::Config& cfg)
      : location_(config::LocateModel(cfg)), dir_(location_.path), manager_(Options(cfg, dir_)) {}

  Status Embed(const std::vector<std::string>& texts, std::vector<float>* out,
               std::chrono::milliseconds max_wait) override {
    Status s = CheckAvailable();
    if (!s.ok()) return s;
    return manager_.Embed(texts, out, max_wait);
  }
  int dim() const override { return kOurDim; }
  ModelState state() const override {
    if (!CheckAvailable().ok()) return ModelState::kMissing;
    switch (manager_.state()) {
      case embed::ModelManager::State::kUnloaded: return ModelState::kUnloaded;
      case embed::ModelManager::State::kLoading: return ModelState::kLoading;
      case embed::ModelManager::State::kLoaded: return ModelState::kLoaded;
    }
    return ModelState::kUnloaded;
  }
  bool WaitForLoad(std::chrono::milliseconds max_wait) override {
    // The manager's own state (no file checks per call). A load in progress
    // is joined and waited for on its condition. Should it fail between the
    // check and the join, EnsureLoaded starts the retry that the caller's
    // next Embed would start anyway.
    if (manager_.state() != embed::ModelManager::State::kLoading) return true;
    manager_.EnsureLoaded(max_wait);
    return manager_.state() != embed::ModelManager::State::kLoading;
  }
  Status CheckAvailable() const override {
    if (!location_.found()) return Status::Unavailable(location_.missing);
    struct stat sb;
    for (const char* f : config::kModelFiles) {
      if (::stat((dir_ + "/" + f).c_str(), &sb) != 0)
        return Status::Unavailable("model file " + dir_ + "/" + f + " not found (moved or deleted since rekall started)");
    }
    return Status::OK();
  }
  void WarmUp() override {
    if (CheckAvailable().ok()) manager_.TryStartBackgroundLoad();
  }
  void Unload() override { manager_.Unload(); }
  int load_count() const override { return static_cast<int>(manager_.load_count()); }

 private:
  static embed::ModelManagerOptions Options(const config::Config& cfg, const std::string& dir) {
    embed::ModelManagerOptions o;
    o.model_dir = dir;
    o.embedder.num_threads = static_cast<int>(cfg.threads);
    o.embedder.precision = cfg.precision;
    o.idle_timeout = cfg.model_idle_timeout_seconds >= 0
                         ? std::chrono::milliseconds(cfg.model_idle_timeout_seconds * 1000)
                         : std::chrono::milliseconds(cfg.model_idle_timeout_minutes * 60 * 1000);
    return o;
  }
  config::ResourceLocation location_;  // resolved once, at start
  std::string dir_;
  embed::ModelManager manager_;
};

}  // namespace

const char* ModelStateName(ModelState s) {
  switch (s) {
    case ModelState::kUnloaded: return "unloaded";
    case ModelState::kLoading: return "loading";
    case ModelState::kLoaded: return "loaded";
    case ModelState::kMissing: return "missing";
  }
  return "?";
}

bool EmbeddingProvider::WaitForLoad(std::chrono::milliseconds max_wait) {
  if (state() != ModelState::kLoading) return true;
  std::this_thread::sleep_for(max_wait);
  return state() != ModelState::kLoading;
}

std::unique_ptr<EmbeddingProvider> NewModelProvider(const config::Config& cfg) {
  return std::make_unique<ManagedProvider>(cfg);
}

}  // namespace rekall
