// rekall: the command-line interface, a thin layer over the Engine. The
// commands live in one file per group (commands.h); context.h has the
// global options and the exit codes.
#include "cli/context.h"

int main(int argc, char** argv) { return rekall::cli::Run(argc, argv); }
