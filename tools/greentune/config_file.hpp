#pragma once
// --config FILE for any command: a TOML file whose keys are the command's option names without the
// leading dashes (`batch-size = 32`). Values fill only options the command line did not give, so flags
// win over the file. Unknown keys and bad values are errors naming the file, line and key.

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace greentune::cli {

void apply_config_file(CLI::App& command, const std::string& path);

// Gives option --key the arguments (as if typed on the command line) and runs its checks. location says
// where they came from ("file:line: key \"...\""), for the Error(usage) of an unknown key or bad value.
void apply_option_arguments(CLI::App& command, const std::string& key,
                            const std::vector<std::string>& arguments, const std::string& location);

}  // namespace greentune::cli
