#include "util/precision.h"

namespace rekall {

const char* PrecisionName(Precision p) {
  switch (p) {
    case Precision::kFp32: return "fp32";
    case Precision::kBf16: return "bf16";
    case Precision::kInt8: return "int8";
  }
  return "?";
}

bool ParsePrecision(std::string_view s, Precision* p) {
  for (Precision c : {Precision::kFp32, Precision::kBf16, Precision::kInt8}) {
    if (s == PrecisionName(c)) {
      *p = c;
      return true;
    }
  }
  return false;
}

const char* PrecisionRefusal(Precision p) {
  switch (p) {
    case Precision::kFp32:
    case Precision::kBf16: return nullptr;
    case Precision::kInt8:
      return "int8 is not available: it has no kernels yet, so it was never measured against the rule a reduced "
             "precision must meet (SciFact nDCG@10 within 0.005 of fp32); use fp32 or bf16";
  }
  return "unknown precision";
}

}  // namespace rekall
