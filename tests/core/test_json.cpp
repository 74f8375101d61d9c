// Untrusted JSON: syntax errors, numbers beyond a double's range and nesting past the bound are problems
// named in words, never exceptions out of nlohmann or a recursion that exhausts the stack.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace greentune
