#include "index/embedding_cache.h"

#include <cstring>

namespace rekall {

EmbeddingCache::EmbeddingCache() : EmbeddingCache(Options{}) {}
EmbeddingCache::EmbeddingCache(Options opts) : opts_(std::move(opts)) {}

std::chrono::steady_clock::time_point EmbeddingCache::Now() const {
  return opts_.env->NowSteady();
}

EmbeddingCache::Vector EmbeddingCache::GetLocked(const std::string& id,
                                                 std::chrono::steady_clock::time_point now) {
  auto it = map_.find(id);
  if (it == map_.end()) {
    ++stats_.misses;
    return nullptr;
  }
  if (now >= it->second->expires) {
    lru_.erase(it->second);
    map_.erase(it);
    ++stats_.expirations;
    ++stats_.misses;
    return nullptr;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  ++stats_.hits;
  return it->second->vec;
}

EmbeddingCache::Vector EmbeddingCache::Get(const std::string& key) {
  const auto now = Now();
  std::lock_guard<std::mutex> l(mu_);
  return GetLocked(key, now);
}

void EmbeddingCache::PutLocked(const std::string& id, std::vector<float> vec) {
  if (opts_.capacity == 0) return;
  auto v = std::make_shared<const std::vector<float>>(std::move(vec));
  const auto expires = Now() + opts_.ttl;
  auto it = map_.find(id);
  if (it != map_.end()) {
    it->second->vec = std::move(v);
    it->second->expires = expires;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  while (map_.size() >= opts_.capacity) {
    map_.erase(lru_.back().id);
    lru_.pop_back();
    ++stats_.evictions;
  }
  lru_.push_front(Slot{id, std::move(v), expires});
  map_.emplace(id, lru_.begin());
}

void EmbeddingCache::Put(const std::string& key, std::vector<float> vec) {
  std::lock_guard<std::mutex> l(mu_);
  PutLocked(key, std::move(vec));
}

bool EmbeddingCache::Put(const std::string& key, std::vector<float> vec, uint64_t token) {
  std::lock_guard<std::mutex> l(mu_);
  if (token != generation_) return false;
  PutLocked(key, std::move(vec));
  return true;
}

uint64_t EmbeddingCache::LoadToken() const {
  std::lock_guard<std::mutex> l(mu_);
  return generation_;
}

void EmbeddingCache::Invalidate(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  ++generation_;
  ++stats_.invalidations;
  auto it = map_.find(key);
  if (it == map_.end()) return;
  lru_.erase(it->second);
  map_.erase(it);
}

void EmbeddingCache::Clear() {
  std::lock_guard<std::mutex> l(mu_);
  ++generation_;
  lru_.clear();
  map_.clear();
}

void EmbeddingCache::BatchMatrix(const std::vector<std::string>& ids, int dim, std::vector<float>* mat,
                                 std::vector<std::string>* found, std::vector<std::string>* missing) {
  mat->clear();
  found->clear();
  missing->clear();
  const auto now = Now();
  std::lock_guard<std::mutex> l(mu_);
  mat->reserve(ids.size() * size_t(dim > 0 ? dim : 0));
  for (const std::string& id : ids) {
    Vector v = GetLocked(id, now);
    if (!v || dim <= 0 || v->size() != size_t(dim)) {
      missing->push_back(id);
      continue;
    }
    mat->insert(mat->end(), v->begin(), v->end());
    found->push_back(id);
  }
}

EmbeddingCache::Stats EmbeddingCache::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  Stats s = stats_;
  s.size = map_.size();
  return s;
}

}  // namespace rekall
