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

UntrustedJson parse_untrusted_json(std::string_view text, const nlohmann::json::parser_callback_t& also) {
  struct TooDeep {};  // thrown out of the parser at the first level past the bound
  const nlohmann::json::parser_callback_t bounded = [&](int depth, nlohmann::json::parse_event_t event,
                                                        nlohmann::json& parsed) {
    if (depth >= kMaxJsonNesting)  // the outermost array or object starts at depth 0
      throw TooDeep{};
    return also ? also(depth, event, parsed) : true;
  };
  UntrustedJson result;
  try {
    result.value = nlohmann::json::parse(text.begin(), text.end(), bounded);
  } catch (const TooDeep&) {
    result.problem = fmt::format("nests arrays and objects deeper than {} levels", kMaxJsonNesting);
  } catch (
      const nlohmann::json::exception& error) {  // parse_error, or out_of_range for a number such as 1e999
    const std::string_view message = error.what();
    const size_t id_end = message.find("] ");  // drops nlohmann's "[json.exception.parse_error.101] "
    result.problem = fmt::format("is not valid JSON: {}",
                                 id_end == std::string_view::npos ? message : message.substr(id_end + 2));
  }
  return result;
}

}  // namespace greentune
