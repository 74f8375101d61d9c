#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "greentune/core/strings.hpp"

namespace greentune {
namespace {

TEST(Strings, AsciiLowercaseLeavesOtherBytesAlone) {
  EXPECT_EQ(ascii_lowercase("Content-Type: IMDB_Reviews.CSV @[`{"), "content-type: imdb_reviews.csv @[`{");
  EXPECT_EQ(ascii_lowercase("\xC3\x84RGER \xC3\x9F"), "\xC3\x84rger \xC3\x9F");  // "ÄRGER ß": UTF-8 as is
}

TEST(Strings, EqualsIgnoringCase) {
  EXPECT_TRUE(equals_ignoring_case("Content-Length", "content-LENGTH"));
  EXPECT_TRUE(equals_ignoring_case("", ""));
  EXPECT_FALSE(equals_ignoring_case("etag", "etags"));
  EXPECT_FALSE(equals_ignoring_case("a[", "A{"));  // '[' and '{' are 32 apart but not letters
}

TEST(Strings, TrimRemovesWhitespaceAtBothEnds) {
  EXPECT_EQ(trim(" \t\v\f model name \r\n"), "model name");
  EXPECT_EQ(trim("x"), "x");
  EXPECT_EQ(trim(" \t\r\n"), "");
  EXPECT_EQ(trim(""), "");
  EXPECT_EQ(trim(" a \t", " "), "a \t");
}

TEST(Strings, TrimEndKeepsTheStart) {
  EXPECT_EQ(trim_end("  ##ing \t\r", " \t\r"), "  ##ing");
  EXPECT_EQ(trim_end("12345\n"), "12345");
  EXPECT_EQ(trim_end("\n\n"), "");
  EXPECT_EQ(trim_end("a\f", " \t\r"), "a\f");
}

TEST(Strings, IsBlank) {
  EXPECT_TRUE(is_blank(""));
  EXPECT_TRUE(is_blank(" \t\r\v\f"));
  EXPECT_FALSE(is_blank(" x "));
  EXPECT_TRUE(is_blank(" \t\r", kJsonWhitespace));
  EXPECT_FALSE(is_blank("\f", kJsonWhitespace));  // not JSON white space: the line is malformed JSON
}

TEST(Strings, JoinPutsTheSeparatorBetweenEveryTwoParts) {
  EXPECT_EQ(join(std::vector<std::string>{"Linux", "macOS", "Windows"}, " + "), "Linux + macOS + Windows");
  EXPECT_EQ(join(std::vector<std::string>{"only"}, ", "), "only");
  EXPECT_EQ(join(std::vector<std::string>{}, ", "), "");
  EXPECT_EQ(join(std::vector<std::string>{"", "b", ""}, ","), ",b,");
}

}  // namespace
}  // namespace greentune
