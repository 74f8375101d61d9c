#pragma once
// "Did you mean": for a command line CLI11 rejected, the word a (sub)command does not know and the closest
// name it does know, by edit distance (a swap of two letters counts one), so that `greentune trian` and
// `greentune train --lrr 0.1` say what was meant.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

namespace greentune::cli {

struct Suggestion {
  std::string problem;  // "unknown command \"trian\"", "unknown option --lrr"
  std::string fix;      // "did you mean `greentune train`?"
};

// The first word of argv (argv[1..]) that the command it is given to does not know, when a known name is
// close to it; nullopt otherwise.
std::optional<Suggestion> did_you_mean(CLI::App& app, int argc, const char* const* argv);

// The optimal string alignment distance between a and b: insertions, deletions, substitutions and swaps
// of neighbours, each 1.
size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace greentune::cli
