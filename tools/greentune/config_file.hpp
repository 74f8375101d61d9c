#pragma once
// Options from TOML files: --config FILE of `greentune train` (keys are the option names without the
// leading dashes, `batch-size = 32`) and a study's variants. A file's values fill only options the command
// line did not give, so flags win over the file. Unknown keys and bad values are errors naming the file,
// line and key.

#include <CLI/CLI.hpp>
#include <string>

#include "greentune/study/plan.hpp"
#include "greentune/train/train_options.hpp"

namespace greentune::cli {

// setting as read from a TOML file in folder dir: a relative path in it made relative to dir, as the
// option's path kind says (an option that names a file always; one that names a file or a name, like
// --model and --data, where the path exists there).
study::Setting relative_to_file(study::Setting setting, const std::filesystem::path& dir);

// Gives the option setting.key its arguments (as if typed on the command line). location says where they
// came from ("file:line: key \"...\""), for the Error(usage) of an unknown key or bad value.
void apply_setting(train::TrainOptions& options, const study::Setting& setting, const std::string& location);

// The keys of the TOML file at path (its paths relative to it), for the options of command (registered from
// train::train_options()) that its command line did not give.
void apply_config_file(const CLI::App& command, train::TrainOptions& options, const std::string& path);

}  // namespace greentune::cli
