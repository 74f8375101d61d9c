#pragma once
// Human-facing messages go to stderr so stdout stays clean for data (JSON lines, tables).

#include <string_view>

namespace greentune::log {

void info(std::string_view message);
void warn(std::string_view message);
void set_quiet(bool quiet);  // quiet: info() and progress print nothing; warnings still print
bool quiet();

}  // namespace greentune::log
