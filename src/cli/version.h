// `rekall --version`: the engine's version and, as a bug report needs them,
// which model and which sqlite-vec this binary would use (and from where).
#pragma once

#include <string>

#include "config/config.h"

namespace rekall::cli {

std::string VersionText(const config::Config& cfg);

}  // namespace rekall::cli
