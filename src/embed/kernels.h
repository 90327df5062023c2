// Element-wise kernels of the BERT forward pass. Plain loops written so that
// GCC auto-vectorises them at -O3; each is compiled for baseline x86-64, AVX2
// and AVX-512 and picked at run time (target_clones), so one binary runs
// everywhere and uses the widest vectors the CPU has.
#pragma once

#include <cstddef>

namespace rekall::embed::kernels {

// x[r][c] = (x[r][c] + bias[c]) * scale
void AddBias(float* x, const float* bias, size_t rows, size_t cols, float scale);
// x[r][c] = gelu(x[r][c] + bias[c]), GELU in its exact erf form (HF "gelu").
void AddBiasGelu(float* x, const float* bias, size_t rows, size_t cols);
// x[r] = LayerNorm(y[r] + bias + x[r]) * gamma + beta: the residual step
// after each sub-layer, in one pass over the row.
void AddBiasResidualLayerNorm(float* x, const float* y, const float* bias, const float* gamma, const float* beta,
                              size_t rows, size_t cols, float eps);
// x[r] = LayerNorm(x[r]) * gamma + beta.
void LayerNorm(float* x, const float* gamma, const float* beta, size_t rows, size_t cols, float eps);
// Row-wise softmax of a rows x cols matrix with leading dimension ld.
void SoftmaxRows(float* s, size_t rows, size_t cols, size_t ld);

// Scalar references of the vectorised approximations (tests compare them to
// std::erf / std::exp).
float Erf(float x);
float Exp(float x);

}  // namespace rekall::embed::kernels
