#pragma once
// JSON helpers every module shares: std::optional fields (null when empty; nlohmann 3.11 has no
// serializer for them), and reading a JSON file into a type with errors that name the file and key.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

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

// Where a JSON value departs from the shape a type's from_json reads, found by comparing it with a
// default-constructed value of the type as JSON (expected): key is the dotted path ("best.metrics.f1"),
// empty for the value itself; problem says what is wrong ("no such key", "a string where a number
// belongs", "-1 where a non-negative integer belongs"). A null in expected (an empty optional, a free-form
// field) and an empty object accept anything; a non-empty array in expected holds the shape of every
// element. An integer field takes only integers its type holds (see number_problem in json.cpp).
// absent: whether a missing key or a null is a mismatch, or is left to from_json (which keeps a default
// or fills an empty optional).
struct JsonMismatch {
  std::string key;
  std::string problem;
};
enum class JsonAbsent { mismatch, allowed };
std::optional<JsonMismatch> find_json_mismatch(const nlohmann::json& expected, const nlohmann::json& actual,
                                               JsonAbsent absent = JsonAbsent::mismatch);

// The JSON of a T with every field present, the shape from_untrusted_json checks a file against before
// from_json reads it: json(T{}), unless T's namespace declares `nlohmann::json json_shape(
// std::type_identity<T>)`, for a T whose optional fields (null in json(T{})) or arrays (empty) hold
// numbers: that shape fills each optional and gives each array one element.
template <typename T>
nlohmann::json json_shape_of() {
  if constexpr (requires { json_shape(std::type_identity<T>{}); })
    return json_shape(std::type_identity<T>{});
  else
    return nlohmann::json(T{});
}

// The deepest nesting of arrays and objects greentune reads from text a user or a hub hands it
// (config.json, a safetensors header, a JSON-lines record). Real files nest a few levels; deeper text
// would make recursive code (copies of the value, error excerpts) exhaust the stack.
inline constexpr int kMaxJsonNesting = 64;

// Untrusted text parsed as JSON. problem is empty when it parsed, else what is wrong, to follow the
// text's name: "is not valid JSON: <nlohmann's reason>" (a syntax error, a number beyond a double's
// range) or "nests arrays and objects deeper than 64 levels". also: a callback of the caller's that sees
// every parse event too (it may throw).
struct UntrustedJson {
  nlohmann::json value;
  std::string problem;
};
UntrustedJson parse_untrusted_json(std::string_view text,
                                   const nlohmann::json::parser_callback_t& also = nullptr);

// Error(parse) for the damaged JSON file at path: where names the file and, with a mismatch, the key.
Error damaged_json_file(const std::filesystem::path& path, std::string_view what, std::string_view fix,
                        std::string_view detail, const std::optional<JsonMismatch>& mismatch = std::nullopt);

// value, parsed from the file at path, read as a T (its from_json), what: "run result" and the like, fix:
// what the user can do about a damaged file. Error(parse) naming the file and the key for a missing key,
// a wrong type or a number the field's type cannot hold. Numbers are checked before from_json runs: its
// casts are undefined for out-of-range values.
template <typename T>
T from_untrusted_json(const nlohmann::json& value, const std::filesystem::path& path, std::string_view what,
                      std::string_view fix) {
  if (std::optional<JsonMismatch> mismatch =
          find_json_mismatch(json_shape_of<T>(), value, JsonAbsent::allowed))
    throw damaged_json_file(path, what, fix, mismatch->problem, mismatch);
  try {
    return value.get<T>();
  } catch (const nlohmann::json::exception& error) {  // a missing key or null where no default is kept
    throw damaged_json_file(path, what, fix, error.what(), find_json_mismatch(nlohmann::json(T{}), value));
  }
}

// The JSON file at path read as a T, as from_untrusted_json. Error(not_found) when it does not exist;
// Error(parse) for bad JSON (nesting bounded as in parse_untrusted_json).
template <typename T>
T read_json_file(const std::filesystem::path& path, std::string_view what, std::string_view fix) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec))
    throw Error(ErrorCode::not_found, path.string(), std::string("no ") + std::string(what), fix);
  const UntrustedJson parsed = parse_untrusted_json(read_file(path));
  if (!parsed.problem.empty())
    throw damaged_json_file(path, what, fix, parsed.problem);
  return from_untrusted_json<T>(parsed.value, path, what, fix);
}

}  // namespace greentune
