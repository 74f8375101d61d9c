#include "greentune/core/json.hpp"

#include <fmt/format.h>

namespace greentune {

namespace {

// "a string", "an object", "null": nlohmann's type name with its article.
std::string kind_of(const nlohmann::json& value) {
  const std::string name = value.type_name();
  if (value.is_null())
    return name;
  return (name.front() == 'o' || name.front() == 'a' ? "an " : "a ") + name;
}

bool same_kind(const nlohmann::json& expected, const nlohmann::json& actual) {
  if (expected.is_number())
    return actual.is_number();  // from_json converts between integers and floating point
  return expected.type() == actual.type();
}

std::optional<JsonMismatch> find_mismatch(const nlohmann::json& expected, const nlohmann::json& actual,
                                          const std::string& key) {
  if (expected.is_null() || (expected.is_object() && expected.empty()))
    return std::nullopt;
  if (!same_kind(expected, actual))
    return JsonMismatch{key, fmt::format("{} where {} belongs", kind_of(actual), kind_of(expected))};
  if (!expected.is_object())
    return std::nullopt;
  for (const auto& [name, value] : expected.items()) {
    const std::string path = key.empty() ? name : key + "." + name;
    const auto found = actual.find(name);
    if (found == actual.end())
      return JsonMismatch{path, "no such key"};
    if (std::optional<JsonMismatch> mismatch = find_mismatch(value, *found, path))
      return mismatch;
  }
  return std::nullopt;
}

}  // namespace

std::optional<JsonMismatch> find_json_mismatch(const nlohmann::json& expected, const nlohmann::json& actual) {
  return find_mismatch(expected, actual, "");
}

Error damaged_json_file(const std::filesystem::path& path, std::string_view what, std::string_view fix,
                        std::string_view detail, const std::optional<JsonMismatch>& mismatch) {
  const bool names_key = mismatch && !mismatch->key.empty();
  return Error(ErrorCode::parse,
               names_key ? fmt::format("{}: key \"{}\"", path.string(), mismatch->key) : path.string(),
               fmt::format("damaged {}: {}", what, mismatch ? mismatch->problem : detail), fix);
}

}  // namespace greentune
