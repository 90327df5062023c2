#include "index/bit_code.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace rekall::index_internal {

ThermometerCode::ThermometerCode(int dim) : dim_(dim), thresholds_(size_t(kLevels) * size_t(dim), 0.0f) {}

void ThermometerCode::Encode(const float* unit, uint8_t* out) const {
  std::memset(out, 0, size_t(bytes()));
  for (int l = 0; l < kLevels; ++l) {
    const float* t = thresholds_.data() + size_t(l) * size_t(dim_);
    for (int d = 0; d < dim_; ++d) {
      const int bit = l * dim_ + d;
      if (unit[d] > t[d]) out[bit >> 3] |= uint8_t(1u << (bit & 7));
    }
  }
}

std::string ThermometerCode::Serialize() const {
  std::string s(thresholds_.size() * sizeof(float) + sizeof(int64_t), '\0');
  std::memcpy(s.data(), thresholds_.data(), thresholds_.size() * sizeof(float));
  std::memcpy(s.data() + thresholds_.size() * sizeof(float), &fitted_rows_, sizeof(int64_t));
  return s;
}

bool ThermometerCode::Parse(const void* blob, int bytes, int dim, ThermometerCode* out) {
  const size_t n = size_t(kLevels) * size_t(dim);
  if (blob == nullptr || dim <= 0 || size_t(bytes) != n * sizeof(float) + sizeof(int64_t)) return false;
  ThermometerCode c(dim);
  std::memcpy(c.thresholds_.data(), blob, n * sizeof(float));
  std::memcpy(&c.fitted_rows_, static_cast<const char*>(blob) + n * sizeof(float), sizeof(int64_t));
  for (float t : c.thresholds_) {
    if (!std::isfinite(t)) return false;
  }
  *out = std::move(c);
  return true;
}

void CodeFitter::Add(const float* unit) {
  for (int d = 0; d < dim_; ++d) {
    sum_[size_t(d)] += unit[d];
    sum_sq_[size_t(d)] += double(unit[d]) * unit[d];
  }
  ++n_;
}

ThermometerCode CodeFitter::Finish() const {
  static_assert(ThermometerCode::kLevels == 3, "thresholds: mean - sd, mean, mean + sd");
  ThermometerCode c(dim_);
  c.fitted_rows_ = n_;
  if (n_ == 0) return c;
  for (int d = 0; d < dim_; ++d) {
    const double mean = sum_[size_t(d)] / double(n_);
    const double sd = std::sqrt(std::max(0.0, sum_sq_[size_t(d)] / double(n_) - mean * mean));
    c.thresholds_[size_t(d)] = float(mean - sd);
    c.thresholds_[size_t(dim_ + d)] = float(mean);
    c.thresholds_[size_t(2 * dim_ + d)] = float(mean + sd);
  }
  return c;
}

}  // namespace rekall::index_internal
