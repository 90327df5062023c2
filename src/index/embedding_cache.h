// EmbeddingCache: vectors kept in memory between searches by a string key,
// LRU-bounded with a time-to-live. Thread-safe (the server shares one). The
// Engine keeps two: entry vectors by entry id, query vectors by query text.
//
// Staleness rules: the Engine calls Invalidate(id) whenever an entry's
// vector changes or the entry is deleted (and Clear() when another process
// wrote to the database), so an updated entry is never scored with its old
// vector and a deleted one is never returned. A vector loaded from the
// database concurrently with such a change must be Put with the token taken
// before the load (LoadToken()); the Put is dropped if an invalidation
// happened in between.
#pragma once

#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "util/env.h"

namespace rekall {

class EmbeddingCache {
 public:
  using Vector = std::shared_ptr<const std::vector<float>>;

  struct Options {
    size_t capacity = 1000;
    std::chrono::milliseconds ttl{600'000};  // measured from the Put
    Env* env = Env::Default();                // its NowSteady() measures the ttl
  };

  struct Stats {
    uint64_t hits = 0, misses = 0, evictions = 0, expirations = 0, invalidations = 0;
    size_t size = 0;
  };

  EmbeddingCache();
  explicit EmbeddingCache(Options opts);

  // The vector, or null on a miss (absent or expired). A hit refreshes the
  // entry's LRU position, not its expiry.
  Vector Get(const std::string& key);
  // Inserts or replaces; evicts the least recently used entry when full.
  void Put(const std::string& key, std::vector<float> vec);
  // As Put, but dropped if any Invalidate/Clear happened since `token` was
  // taken with LoadToken(). Returns whether the vector was stored.
  bool Put(const std::string& key, std::vector<float> vec, uint64_t token);
  uint64_t LoadToken() const;

  void Invalidate(const std::string& key);
  void Clear();

  // Copies the cached vectors of keys `ids` (each `dim` floats) into one row-major
  // matrix for a single scoring pass: rows follow `found`, which lists the
  // ids served (in `ids` order); the other ids go to `missing`. Counts a hit
  // or a miss per id. A cached vector of another dimension counts as missing.
  void BatchMatrix(const std::vector<std::string>& ids, int dim, std::vector<float>* mat,
                   std::vector<std::string>* found, std::vector<std::string>* missing);

  Stats stats() const;

 private:
  struct Slot {
    std::string id;
    Vector vec;
    std::chrono::steady_clock::time_point expires;
  };
  using List = std::list<Slot>;  // front = most recently used

  std::chrono::steady_clock::time_point Now() const;
  // Looks up under the lock, dropping an expired entry. Null on a miss.
  Vector GetLocked(const std::string& id, std::chrono::steady_clock::time_point now);
  void PutLocked(const std::string& id, std::vector<float> vec);

  const Options opts_;
  mutable std::mutex mu_;
  List lru_;
  std::unordered_map<std::string, List::iterator> map_;
  uint64_t generation_ = 0;  // bumped by every Invalidate/Clear
  Stats stats_;
};

}  // namespace rekall
