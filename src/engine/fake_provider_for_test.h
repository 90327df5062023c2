// Test-only EmbeddingProvider: embeds a text as a normalised bag of hashed
// words (texts sharing words are near), so engine and server logic is tested
// without the 90 MB model. `loading` makes it behave as a model still loading
// (state kLoading; Embed records max_wait and returns Unavailable);
// `missing` as absent model files.
#pragma once

#include <atomic>
#include <cctype>
#include <chrono>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "engine/embedding_provider.h"
#include "util/our_embeddings.h"

namespace rekall {

class FakeProvider : public EmbeddingProvider {
 public:
  Status Embed(const std::vector<std::string>& texts, std::vector<float>* out,
               std::chrono::milliseconds max_wait) override {
    if (loading) {
      last_wait = max_wait;
      return Status::Unavailable("model loading");
    }
    ++calls;
    if (on_embed) on_embed(texts);
    out->assign(texts.size() * kOurDim, 0.0f);
    for (size_t i = 0; i < texts.size(); ++i) {
      std::istringstream ss(texts[i]);
      std::string w;
      float* v = out->data() + i * kOurDim;
      while (ss >> w) {
        for (auto& c : w) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        v[std::hash<std::string>()(w) % kOurDim] += 1.0f;
      }
      v[kOurDim - 1] += 0.01f;  // never a zero vector
      double n = 0;
      for (int k = 0; k < kOurDim; ++k) n += v[k] * v[k];
      for (int k = 0; k < kOurDim; ++k) v[k] = static_cast<float>(v[k] / std::sqrt(n));
    }
    return Status::OK();
  }
  int dim() const override { return kOurDim; }
  ModelState state() const override {
    return missing ? ModelState::kMissing : loading ? ModelState::kLoading : ModelState::kLoaded;
  }
  Status CheckAvailable() const override {
    return missing ? Status::Unavailable("model files not found in /nowhere") : Status::OK();
  }

  std::atomic<bool> loading{false};
  std::atomic<bool> missing{false};
  std::atomic<int> calls{0};
  std::chrono::milliseconds last_wait{-1};
  // Runs at the start of each Embed (set it before the engine's threads start).
  std::function<void(const std::vector<std::string>&)> on_embed;
};

}  // namespace rekall
