#include "greentune/core/json.hpp"

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace greentune {

namespace {

// "a string", "an object", "null": nlohmann's type name with its article.
std::string kind_of(const nlohmann::json& value) {
  const std::string name = value.type_name();
  if (value.is_null())
    return name;
  return (name.front() == 'o' || name.front() == 'a' ? "an " : "a ") + name;
}

// Why actual cannot be read where expected's number belongs, empty when it can. from_json converts
// between integers and floating point with a plain cast, which is undefined for a value outside the
// target's range (1e300 into an int64_t) and wraps a negative integer into a size_t, so an integer field
// takes only integers that fit: a floating-point value with no fraction is accepted, as JSON writers
// differ on "4" and "4.0".
std::string number_problem(const nlohmann::json& expected, const nlohmann::json& actual) {
  if (!actual.is_number())
    return fmt::format("{} where {} belongs", kind_of(actual), kind_of(expected));
  if (expected.is_number_float())
    return {};
  constexpr double kTwoTo63 = 9223372036854775808.0, kTwoTo64 = 18446744073709551616.0;
  const bool unsigned_expected = expected.is_number_unsigned();
  const std::string_view wanted = unsigned_expected ? "a non-negative integer" : "an integer";
  bool fits = false;
  if (actual.is_number_unsigned())
    fits = unsigned_expected ||
           actual.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  else if (actual.is_number_integer())
    fits = !unsigned_expected || actual.get<int64_t>() >= 0;
  else {
    const double value = actual.get<double>();
    fits = std::trunc(value) == value &&
           (unsigned_expected ? value >= 0.0 && value < kTwoTo64 : value >= -kTwoTo63 && value < kTwoTo63);
  }
  return fits ? std::string() : fmt::format("{} where {} belongs", actual.dump(), wanted);
}

std::optional<JsonMismatch> find_mismatch(const nlohmann::json& expected, const nlohmann::json& actual,
                                          const std::string& key, JsonAbsent absent) {
  if (expected.is_null() || (expected.is_object() && expected.empty()) ||
      (actual.is_null() && absent == JsonAbsent::allowed))
    return std::nullopt;
  if (expected.is_number()) {
    std::string problem = number_problem(expected, actual);
    return problem.empty() ? std::nullopt
                           : std::optional<JsonMismatch>(JsonMismatch{key, std::move(problem)});
  }
  if (expected.type() != actual.type())
    return JsonMismatch{key, fmt::format("{} where {} belongs", kind_of(actual), kind_of(expected))};
  if (expected.is_array() && !expected.empty()) {
    for (size_t i = 0; i < actual.size(); ++i) {
      if (std::optional<JsonMismatch> mismatch =
              find_mismatch(expected.front(), actual[i], fmt::format("{}[{}]", key, i), absent))
        return mismatch;
    }
  }
  if (!expected.is_object())
    return std::nullopt;
  for (const auto& [name, value] : expected.items()) {
    const std::string path = key.empty() ? name : key + "." + name;
    const auto found = actual.find(name);
    if (found == actual.end()) {
      if (absent == JsonAbsent::allowed)
        continue;
      return JsonMismatch{path, "no such key"};
    }
    if (std::optional<JsonMismatch> mismatch = find_mismatch(value, *found, path, absent))
      return mismatch;
  }
  return std::nullopt;
}

}  // namespace

std::optional<JsonMismatch> find_json_mismatch(const nlohmann::json& expected, const nlohmann::json& actual,
                                               JsonAbsent absent) {
  return find_mismatch(expected, actual, "", absent);
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
