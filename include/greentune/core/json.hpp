#pragma once
// JSON helpers every module shares: std::optional fields (null when empty; nlohmann 3.11 has no
// serializer for them), and reading a JSON file into a type with errors that name the file and key.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "greentune/core/error.hpp"
#include "greentune/core/files.hpp"

namespace nlohmann {

template <typename T>
struct adl_serializer<std::optional<T>> {
  static void to_json(json& target, const std::optional<T>& value) {
    target = value ? json(*value) : json(nullptr);
  }
  static void from_json(const json& source, std::optional<T>& value) {
    value = source.is_null() ? std::nullopt : std::optional<T>(source.get<T>());
  }
};

}  // namespace nlohmann

namespace greentune {

// The JSON file at path read as a T (its from_json), what: "run result" and the like, fix: what the
// user can do about a damaged file. Error(not_found) when it does not exist; Error(parse) for bad JSON or
// a missing key or wrong type, naming the file and, from nlohmann's message, the key.
template <typename T>
T read_json_file(const std::filesystem::path& path, std::string_view what, std::string_view fix) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(ErrorCode::not_found, path.string(), std::string("no ") + std::string(what), fix);
  try {
    return nlohmann::json::parse(read_file(path)).get<T>();
  } catch (const nlohmann::json::exception& error) {
    throw Error(ErrorCode::parse, path.string(),
                std::string("damaged ") + std::string(what) + ": " + error.what(), fix);
  }
}

}  // namespace greentune
