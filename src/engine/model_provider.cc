#include <sys/stat.h>

#include "config/resources.h"
#include "embed/model_manager.h"
#include "engine/embedding_provider.h"

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
  int dim() const override { return 384; }
  std::string state() const override {
    if (!CheckAvailable().ok()) return "missing";
    return embed::ModelManager::StateName(manager_.state());
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

std::unique_ptr<EmbeddingProvider> NewModelProvider(const config::Config& cfg) {
  return std::make_unique<ManagedProvider>(cfg);
}

}  // namespace rekall
