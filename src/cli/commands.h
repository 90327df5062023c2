// The `rekall` commands. Run() parses argv and dispatches; it is a function
// of its own so tests and `rekall serve` share the wiring.
#pragma once

namespace rekall::cli {

int Run(int argc, char** argv);

}  // namespace rekall::cli
