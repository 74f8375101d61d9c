#pragma once
// greentune's version, from the top CMakeLists.txt's project(VERSION): what --version prints and what a run
// records of the program that computed it.

#include <string_view>

namespace greentune {

inline constexpr std::string_view kVersion = GREENTUNE_VERSION;

}  // namespace greentune
