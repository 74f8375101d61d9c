#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <string>

#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"
#include "greentune/core/progress.hpp"

namespace greentune {
namespace {

using std::chrono::hours;
using std::chrono::seconds;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInfinity = std::numeric_limits<double>::infinity();

// An in-memory FILE* standing in for stderr; declare it before the ProgressLine writing to it, so that it
// outlives the line's destructor.
class CapturedStream {
 public:
  CapturedStream() : file_(open_memstream(&buffer_, &size_)) {}
  ~CapturedStream() {
    std::fclose(file_);
    std::free(buffer_);
  }
  CapturedStream(const CapturedStream&) = delete;
  CapturedStream& operator=(const CapturedStream&) = delete;

  std::FILE* file() const { return file_; }
  std::string text() {
    std::fflush(file_);
    return {buffer_, size_};
  }

 private:
  char* buffer_ = nullptr;
  size_t size_ = 0;
  std::FILE* file_;
};

// Sets log::quiet for one test and restores it afterwards.
class QuietScope {
 public:
  QuietScope() : was_quiet_(log::quiet()) { log::set_quiet(true); }
  ~QuietScope() { log::set_quiet(was_quiet_); }
  QuietScope(const QuietScope&) = delete;
  QuietScope& operator=(const QuietScope&) = delete;

 private:
  bool was_quiet_;
};

auto text_of(std::string text) {
  return [text] { return text; };
}

TEST(ProgressBar, FillsTheFlooredShareOfCells) {
  EXPECT_EQ(progress_bar(0.0, 10), "[..........]");
  EXPECT_EQ(progress_bar(0.4, 10), "[####......]");
  EXPECT_EQ(progress_bar(0.99, 10), "[#########.]");
  EXPECT_EQ(progress_bar(1.0, 10), "[##########]");
  EXPECT_EQ(progress_bar(0.5, 0), "[]");
}

TEST(ProgressBar, ClampsFractionsOutsideZeroToOne) {
  EXPECT_EQ(progress_bar(-0.5, 4), "[....]");
  EXPECT_EQ(progress_bar(1.7, 4), "[####]");
  EXPECT_EQ(progress_bar(kNaN, 4), "[....]");
  EXPECT_EQ(progress_bar(kInfinity, 4), "[####]");
}

TEST(ProgressBar, RejectsANegativeWidth) {
  try {
    progress_bar(0.5, -1);
    FAIL() << "expected a greentune::Error";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::internal);
  }
}

TEST(FormatDuration, PicksUnitsByMagnitude) {
  EXPECT_EQ(format_duration(0.0), "0s");
  EXPECT_EQ(format_duration(45.0), "45s");
  EXPECT_EQ(format_duration(185.0), "3m05s");
  EXPECT_EQ(format_duration(3720.0), "1h02m");
  EXPECT_EQ(format_duration(3779.0), "1h02m");  // minutes are truncated
  EXPECT_EQ(format_duration(100.0 * 3600.0), "100h00m");
}

TEST(FormatDuration, RoundsToWholeSecondsBeforePickingUnits) {
  EXPECT_EQ(format_duration(44.4), "44s");
  EXPECT_EQ(format_duration(59.6), "1m00s");
  EXPECT_EQ(format_duration(3599.6), "1h00m");
}

TEST(FormatDuration, MarksUnknownDurations) {
  EXPECT_EQ(format_duration(-1.0), "?");
  EXPECT_EQ(format_duration(kNaN), "?");
  EXPECT_EQ(format_duration(kInfinity), "?");
}

TEST(EtaSeconds, ExtrapolatesTheRateSoFar) {
  EXPECT_EQ(eta_seconds(25.0, 100.0, 10.0), 30.0);
  EXPECT_EQ(eta_seconds(100.0, 100.0, 10.0), 0.0);
  EXPECT_EQ(eta_seconds(120.0, 100.0, 10.0), 0.0);  // overshoot: done, not negative
}

TEST(EtaSeconds, IsUnknownWithoutProgressOrTotal) {
  EXPECT_EQ(eta_seconds(0.0, 100.0, 10.0), std::nullopt);
  EXPECT_EQ(eta_seconds(-1.0, 100.0, 10.0), std::nullopt);
  EXPECT_EQ(eta_seconds(5.0, 0.0, 10.0), std::nullopt);
  EXPECT_EQ(eta_seconds(5.0, 100.0, -1.0), std::nullopt);
  EXPECT_EQ(eta_seconds(5.0, kInfinity, 10.0), std::nullopt);
  EXPECT_EQ(eta_seconds(kNaN, 100.0, 10.0), std::nullopt);
}

TEST(ProgressLine, TerminalRedrawsInPlace) {
  CapturedStream stream;
  ProgressLine line(/*terminal=*/true, seconds(0), hours(1), stream.file());
  line.update(text_of("step 1"));
  line.update(text_of("step 2"));
  EXPECT_EQ(stream.text(), "\rstep 1\x1b[K\rstep 2\x1b[K");
}

TEST(ProgressLine, PlainOutputWritesOneLinePerUpdate) {
  CapturedStream stream;
  ProgressLine line(/*terminal=*/false, hours(1), seconds(0), stream.file());
  line.update(text_of("step 1"));
  line.update(text_of("step 2"));
  EXPECT_EQ(stream.text(), "step 1\nstep 2\n");
}

TEST(ProgressLine, ShowsNothingWithinTheIntervalUnlessForced) {
  for (const bool terminal : {true, false}) {
    SCOPED_TRACE(terminal ? "terminal" : "plain");
    CapturedStream stream;
    ProgressLine line(terminal, hours(1), hours(1), stream.file());
    int descriptions = 0;
    const auto counted = [&] {
      ++descriptions;
      return std::string("step");
    };
    line.update(counted);
    line.update(counted);
    EXPECT_EQ(stream.text(), "");
    EXPECT_EQ(descriptions, 0);  // the text is built only when it is shown

    line.update(counted, /*force=*/true);
    EXPECT_EQ(stream.text(), terminal ? "\rstep\x1b[K" : "step\n");
    EXPECT_EQ(descriptions, 1);
  }
}

TEST(ProgressLine, TheIntervalUsedDependsOnTheOutput) {
  CapturedStream terminal_stream;
  CapturedStream plain_stream;
  {
    // Each gets a zero interval for the other kind of output, which must not apply.
    ProgressLine terminal_line(/*terminal=*/true, hours(1), seconds(0), terminal_stream.file());
    ProgressLine plain_line(/*terminal=*/false, seconds(0), hours(1), plain_stream.file());
    terminal_line.update(text_of("step"));
    plain_line.update(text_of("step"));
  }
  EXPECT_EQ(terminal_stream.text(), "");
  EXPECT_EQ(plain_stream.text(), "");
}

TEST(ProgressLine, PrintAboveClearsTheBarAndTheNextUpdateRedrawsIt) {
  CapturedStream stream;
  ProgressLine line(/*terminal=*/true, hours(1), hours(1), stream.file());
  line.update(text_of("step 1"), /*force=*/true);
  line.print_above("epoch 1 done");
  line.update(text_of("step 2"));  // inside the interval, yet the cleared bar comes back
  line.update(text_of("step 3"));  // the bar is back: throttled again
  EXPECT_EQ(stream.text(), "\rstep 1\x1b[K\r\x1b[Kepoch 1 done\n\rstep 2\x1b[K");
}

TEST(ProgressLine, PrintAboveWithoutADrawnBarIsAPlainLine) {
  CapturedStream terminal_stream;
  CapturedStream plain_stream;
  {
    ProgressLine terminal_line(/*terminal=*/true, hours(1), hours(1), terminal_stream.file());
    ProgressLine plain_line(/*terminal=*/false, hours(1), seconds(0), plain_stream.file());
    terminal_line.print_above("starting");
    plain_line.update(text_of("step 1"));
    plain_line.print_above("epoch 1 done");
  }
  EXPECT_EQ(terminal_stream.text(), "starting\n");
  EXPECT_EQ(plain_stream.text(), "step 1\nepoch 1 done\n");
}

TEST(ProgressLine, DestructorEndsADrawnBarWithANewline) {
  CapturedStream stream;
  {
    ProgressLine line(/*terminal=*/true, seconds(0), hours(1), stream.file());
    line.update(text_of("step 1"));
  }
  EXPECT_EQ(stream.text(), "\rstep 1\x1b[K\n");
}

TEST(ProgressLine, DestructorAddsNoNewlineAfterPrintAbove) {
  CapturedStream stream;
  {
    ProgressLine line(/*terminal=*/true, seconds(0), hours(1), stream.file());
    line.update(text_of("step 1"));
    line.print_above("done");
  }
  EXPECT_EQ(stream.text(), "\rstep 1\x1b[K\r\x1b[Kdone\n");
}

TEST(ProgressLine, QuietPrintsNothing) {
  const QuietScope quiet;
  for (const bool terminal : {true, false}) {
    SCOPED_TRACE(terminal ? "terminal" : "plain");
    CapturedStream stream;
    {
      ProgressLine line(terminal, seconds(0), seconds(0), stream.file());
      line.update(text_of("step 1"));
      line.update(text_of("step 2"), /*force=*/true);
      line.print_above("epoch 1 done");
    }
    EXPECT_EQ(stream.text(), "");
  }
}

}  // namespace
}  // namespace greentune
