// Memory figures of this process from /proc/self/status (Linux), used to
// check that unloading the model gives memory back and by the benchmark.
#pragma once

#include <cstddef>

namespace rekall::embed {

// Resident set size now (VmRSS), in bytes; 0 if unavailable.
size_t CurrentRssBytes();
// Peak resident set size (VmHWM), in bytes; 0 if unavailable.
size_t PeakRssBytes();

}  // namespace rekall::embed
