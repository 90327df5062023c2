// y = x . w^T (+ bias): the dense layers. Large batches go to OpenBLAS;
// few rows (a query) use our own kernel, because OpenBLAS repacks the whole
// weight matrix on every call, which costs more than the product itself when
// x has a handful of rows.
#pragma once

#include <cstddef>

namespace rekall::embed {

// x: m x k, w: n x k (PyTorch Linear layout), y: m x n, all row-major and
// contiguous. bias (n floats) may be null.
void Linear(const float* x, const float* w, const float* bias, float* y, int m, int n, int k);
// The same into rows ldy >= n floats apart: a share of y's columns, computed
// from the matching rows of w (BertModel splits products this way).
void LinearLd(const float* x, const float* w, const float* bias, float* y, int m, int n, int k, int ldy);

// Rows up to which Linear uses the small-batch kernel (0 when the CPU has
// neither AVX-512 nor AVX2+FMA, then OpenBLAS does everything).
int SmallLinearMaxRows();

// The small-batch kernel alone (tests compare it to OpenBLAS); false if the
// CPU or the shape (k % 16, n % 4) does not allow it. force_avx2 picks the
// AVX2 version on an AVX-512 CPU, so tests cover both.
bool SmallLinear(const float* x, const float* w, const float* bias, float* y, int m, int n, int k,
                 bool force_avx2 = false);
bool SmallLinearLd(const float* x, const float* w, const float* bias, float* y, int m, int n, int k, int ldy,
                   bool force_avx2 = false);

}  // namespace rekall::embed
