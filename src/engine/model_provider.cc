#include <sys/stat.h>

#include <mutex>

#include "embed/embedder.h"
#include "engine/embedding_provider.h"

namespace rekall {

namespace {

std::string ModelDir(const config::Config& cfg) {
  return cfg.model_path.empty() ? std::string(REKALL_DEFAULT_MODEL_DIR) : cfg.model_path;
}

// TEMPORARY: loads the embedder directly; replaced by the model manager.
class DirectProvider : public EmbeddingProvider {
 public:
  explicit DirectProvider(const config::Config& cfg) : dir_(ModelDir(cfg)), threads_(static_cast<int>(cfg.threads)) {}
  Status Embed(const std::vector<std::string>& texts, std::vector<float>* out, std::chrono::milliseconds) override {
    std::lock_guard<std::mutex> l(mu_);
    if (!emb_) {
      embed::EmbedderOptions o;
      o.num_threads = threads_;
      Status s = embed::Embedder::Load(dir_, o, &emb_);
      if (!s.ok()) return s;
      ++loads_;
    }
    return emb_->Embed(texts, out);
  }
  int dim() const override { return 384; }
  std::string state() const override { return emb_ ? "loaded" : "unloaded"; }
  Status CheckAvailable() const override {
    struct stat sb;
    if (::stat((dir_ + "/model.safetensors").c_str(), &sb) != 0)
      return Status::Unavailable("model files not found in " + dir_ + " (run scripts/setup.sh, or set model_path)");
    return Status::OK();
  }
  int load_count() const override { return loads_; }

 private:
  std::string dir_;
  int threads_;
  std::mutex mu_;
  std::unique_ptr<embed::Embedder> emb_;
  int loads_ = 0;
};

}  // namespace

std::unique_ptr<EmbeddingProvider> NewModelProvider(const config::Config& cfg) {
  return std::make_unique<DirectProvider>(cfg);
}

}  // namespace rekall
