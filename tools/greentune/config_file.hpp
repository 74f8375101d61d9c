#pragma once
// --config FILE for any command: a TOML file whose keys are the command's option names without the
// leading dashes (`batch-size = 32`). Values fill only options the command line did not give, so flags
// win over the file. Unknown keys and bad values are errors naming the file, line and key.

#include <CLI/CLI.hpp>
#include <string>

namespace greentune::cli {

void apply_config_file(CLI::App& command, const std::string& path);

}  // namespace greentune::cli
