// What a command on PATH owes its user beyond parsing: examples under each
// command's --help, and a suggestion for a mistyped command. Kept out of
// commands.cc so the texts live in one table.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

namespace rekall::cli {

// Puts "Examples:" under the --help of every (sub)command of `app` that has
// some in the table, looked up by the command's path ("index rebuild").
void AddExamples(CLI::App* app);

// The name among `names` nearest to `typed` (edit distance at most 2, or
// `typed` a prefix of it); empty when none is near.
std::string NearestCommand(const std::string& typed, const std::vector<std::string>& names);

// For a failed parse of `argv`: the first word that is neither an option,
// an option's value nor a command of `app`, with the nearest command; empty
// when every word is known (the error is about something else).
std::string UnknownCommandMessage(CLI::App* app, int argc, char** argv);

}  // namespace rekall::cli
