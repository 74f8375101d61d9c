// Untrusted JSON: syntax errors, numbers beyond a double's range and nesting past the bound are problems
// named in words, never exceptions out of nlohmann or a recursion that exhausts the stack.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "greentune/core/json.hpp"

namespace greentune {
namespace {

using ::testing::HasSubstr;

TEST(UntrustedJson, ParsesValidTextAndCallsTheCallersCallbackToo) {
  int keys = 0;
  const UntrustedJson parsed = parse_untrusted_json(R"({"a": [1, {"b": 2}]})", [&](int, auto event, auto&) {
    keys += event == nlohmann::json::parse_event_t::key ? 1 : 0;
    return true;
  });
  EXPECT_TRUE(parsed.problem.empty());
  EXPECT_EQ(parsed.value.at("a").at(1).at("b"), 2);
  EXPECT_EQ(keys, 2);
}

TEST(UntrustedJson, NestingIsBoundedAt64Levels) {
  const std::string deepest_allowed = std::string(kMaxJsonNesting, '[') + std::string(kMaxJsonNesting, ']');
  EXPECT_TRUE(parse_untrusted_json(deepest_allowed).problem.empty());
  const std::string one_deeper = "[" + deepest_allowed + "]";
  EXPECT_EQ(parse_untrusted_json(one_deeper).problem, "nests arrays and objects deeper than 64 levels");
  EXPECT_EQ(parse_untrusted_json(std::string(100000, '[')).problem,
            "nests arrays and objects deeper than 64 levels");
}

TEST(UntrustedJson, OverflowingNumbersAndSyntaxErrorsAreProblemsNotExceptions) {
  EXPECT_EQ(parse_untrusted_json(R"({"n": 1e999})").problem,
            "is not valid JSON: number overflow parsing '1e999'");
  EXPECT_THAT(parse_untrusted_json(R"({"n": )").problem, HasSubstr("is not valid JSON: parse error"));
}

// A type with an integer, a count and a fraction, read as the files greentune reads (missing keys default).
struct Counts {
  int64_t step = 0;
  size_t n = 0;
  double loss = 0.0;
  std::vector<size_t> sizes;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE_WITH_DEFAULT(Counts, step, n, loss, sizes)
nlohmann::json json_shape(std::type_identity<Counts>) {
  Counts shape;
  shape.sizes = {0};
  return shape;
}

std::string mismatch_of(std::string_view text) {
  try {
    from_untrusted_json<Counts>(nlohmann::json::parse(text), "counts.json", "counts", "write it again");
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::parse);
    return error.what();
  }
  return "";
}

TEST(UntrustedJson, AnIntegerFieldTakesOnlyIntegersItsTypeHolds) {
  const Counts counts = from_untrusted_json<Counts>(
      nlohmann::json::parse(R"({"step": -4, "n": 7.0, "loss": 3, "sizes": [1, 2]})"), "counts.json", "counts",
      "");
  EXPECT_EQ(counts.step, -4);
  EXPECT_EQ(counts.n, 7u);  // an integral floating-point value is read as the integer
  EXPECT_DOUBLE_EQ(counts.loss, 3.0);
  EXPECT_EQ(counts.sizes, (std::vector<size_t>{1, 2}));
  // from_json's casts would make these undefined behaviour (1e300) or a huge count (-1).
  EXPECT_THAT(mismatch_of(R"({"step": 1e300})"),
              HasSubstr("counts.json: key \"step\": damaged counts: 1e+300 where an integer belongs"));
  EXPECT_THAT(mismatch_of(R"({"step": 9223372036854775808})"),
              HasSubstr("key \"step\": damaged counts: 9223372036854775808 where an integer belongs"));
  EXPECT_THAT(mismatch_of(R"({"n": -1})"),
              HasSubstr("key \"n\": damaged counts: -1 where a non-negative integer belongs"));
  EXPECT_THAT(mismatch_of(R"({"n": 2.5})"), HasSubstr("2.5 where a non-negative integer belongs"));
  EXPECT_THAT(mismatch_of(R"({"n": 1.8446744073709552e19})"), HasSubstr("where a non-negative integer"));
  EXPECT_THAT(mismatch_of(R"({"sizes": [3, -3]})"),
              HasSubstr("key \"sizes[1]\": damaged counts: -3 where a non-negative integer belongs"));
  EXPECT_THAT(mismatch_of(R"({"loss": "low"})"), HasSubstr("key \"loss\": damaged counts: a string where"));
  EXPECT_THAT(mismatch_of("[1]"), HasSubstr("counts.json: damaged counts: an array where an object belongs"));
}

}  // namespace
}  // namespace greentune
