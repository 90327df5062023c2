// rekall: the command-line interface, a thin layer over the Engine.
//
// Exit codes: 0 success; 1 failure (I/O, corruption, model unavailable...);
// 2 invalid input or usage; 3 unknown id; 130 cancelled.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"

int main(int argc, char** argv) { return rekall::cli::Run(argc, argv); }
