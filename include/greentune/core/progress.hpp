#pragma once
// A progress line for long jobs (downloads, training): on a terminal one status line redrawn in place,
// otherwise an occasional plain line so that redirected output (logs, CI) stays short. Nothing prints
// while log::quiet(). The pure helpers format the pieces such a line is usually made of.

#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace greentune {

// Not thread-safe: one thread updates a ProgressLine.
class ProgressLine {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kDefaultRedrawInterval{250};
  static constexpr std::chrono::seconds kDefaultLogInterval{30};

  // Writes to stderr, redrawing in place when stderr is a terminal.
  explicit ProgressLine(Clock::duration redraw_interval = kDefaultRedrawInterval,
                        Clock::duration log_interval = kDefaultLogInterval);
  // terminal: redraw one line in place on out every redraw_interval; otherwise write "text\n" (the format
  // of log::info) every log_interval. Both intervals count from construction, so a job that ends within
  // the first interval prints nothing.
  ProgressLine(bool terminal, Clock::duration redraw_interval, Clock::duration log_interval,
               std::FILE* out = stderr);
  // Ends a drawn line with '\n' so that later output starts on a line of its own.
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  // Shows describe() when the interval has passed since the last line shown, or when force; describe is
  // called only then. A bar cleared by print_above is redrawn at the next update, whatever the interval.
  void update(const std::function<std::string()>& describe, bool force = false);

  // Prints line on a line of its own without garbling the bar: on a terminal it clears a drawn bar first
  // ("\r\x1b[K") and the next update redraws it.
  void print_above(std::string_view line);

  bool terminal() const { return terminal_; }

 private:
  void write(std::string_view text) const;

  bool terminal_;
  Clock::duration interval_;
  std::FILE* out_;
  Clock::time_point last_shown_;
  bool bar_visible_ = false;  // a drawn bar is on the current line, the cursor after it
  bool bar_cleared_ = false;  // print_above removed the bar; the next update redraws it at once
};

// "[####......]": width inner cells, the filled share floor(fraction * width) with fraction clamped to
// [0, 1] (NaN counts as 0). Throws Error(internal) for a negative width.
std::string progress_bar(double fraction, int width);

// Rounded to whole seconds: "45s", "3m05s", "1h02m" (minutes truncated); "?" for NaN, infinity or negative.
std::string format_duration(double seconds);

// Seconds left at the rate so far, (total - done) * elapsed_seconds / done, never below 0; nullopt when
// done <= 0, total <= 0, elapsed_seconds < 0 or any of them is not finite.
std::optional<double> eta_seconds(double done, double total, double elapsed_seconds);

}  // namespace greentune
