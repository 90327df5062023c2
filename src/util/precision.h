// The arithmetic precision of the embedder's dense layers ([engine]
// precision, REKALL_PRECISION). One definition for the config, which reads
// and checks it, and the embedder, which runs it: both sit above util.
//
// A reduced precision ships only when it keeps SciFact nDCG@10 (bench/quality)
// within 0.005 of fp32; the others are known names that are refused with
// the reason, so a config asking for one fails loudly instead of silently
// running fp32.
#pragma once

#include <string_view>

namespace rekall {

enum class Precision {
  kFp32,  // the default: the model's own float32 arithmetic, exact
  kBf16,  // weights and activations rounded to bfloat16, sums in float32
  kInt8,  // int8 weights and activations (not built: see PrecisionRefusal)
};

// "fp32" | "bf16" | "int8".
const char* PrecisionName(Precision p);
// False for any other spelling.
bool ParsePrecision(std::string_view s, Precision* p);
// Null when the precision ships; otherwise why it is refused.
const char* PrecisionRefusal(Precision p);

}  // namespace rekall
