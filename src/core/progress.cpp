#include "greentune/core/progress.hpp"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "greentune/core/error.hpp"
#include "greentune/core/log.hpp"

namespace greentune {

namespace {
// "\r" returns to the start of the line, ESC[K clears from the cursor to its end (what a longer previous
// text left behind).
constexpr std::string_view kReturn = "\r";
constexpr std::string_view kClearToEnd = "\x1b[K";
constexpr double kSecondsPerMinute = 60.0;
constexpr double kSecondsPerHour = 3600.0;
}  // namespace

ProgressLine::ProgressLine(Clock::duration redraw_interval, Clock::duration log_interval)
    : ProgressLine(::isatty(STDERR_FILENO) == 1, redraw_interval, log_interval, stderr) {}

ProgressLine::ProgressLine(bool terminal, Clock::duration redraw_interval, Clock::duration log_interval,
                           std::FILE* out)
    : terminal_(terminal),
      interval_(terminal ? redraw_interval : log_interval),
      out_(out),
      last_shown_(Clock::now()) {}

ProgressLine::~ProgressLine() {
  if (bar_visible_) {
    write("\n");
  }
}

void ProgressLine::update(const std::function<std::string()>& describe, bool force) {
  const Clock::time_point now = Clock::now();
  if (log::quiet() || !(force || bar_cleared_ || now - last_shown_ >= interval_)) {
    return;
  }
  last_shown_ = now;
  if (terminal_) {
    write(fmt::format("{}{}{}", kReturn, describe(), kClearToEnd));
    bar_visible_ = true;
    bar_cleared_ = false;
  } else {
    write(describe() + "\n");
  }
}

void ProgressLine::print_above(std::string_view line) {
  if (log::quiet()) {
    return;
  }
  if (bar_visible_) {
    write(fmt::format("{}{}{}\n", kReturn, kClearToEnd, line));
    bar_visible_ = false;
    bar_cleared_ = true;
  } else {
    write(fmt::format("{}\n", line));
  }
}

void ProgressLine::write(std::string_view text) const {
  // Progress is cosmetic: a failed write (a closed or full stream) is not worth stopping the job for.
  std::fwrite(text.data(), 1, text.size(), out_);
  std::fflush(out_);
}

std::string progress_bar(double fraction, int width) {
  if (width < 0) {
    throw Error(ErrorCode::internal, "", fmt::format("progress bar width {} is negative", width));
  }
  const double clamped = std::isnan(fraction) ? 0.0 : std::clamp(fraction, 0.0, 1.0);
  const int filled = static_cast<int>(std::floor(clamped * width));
  return fmt::format("[{}{}]", std::string(filled, '#'), std::string(width - filled, '.'));
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    return "?";
  }
  const double whole_seconds = std::round(seconds);
  if (whole_seconds < kSecondsPerMinute) {
    return fmt::format("{:.0f}s", whole_seconds);
  }
  if (whole_seconds < kSecondsPerHour) {
    const double minutes = std::floor(whole_seconds / kSecondsPerMinute);
    return fmt::format("{:.0f}m{:02.0f}s", minutes, whole_seconds - minutes * kSecondsPerMinute);
  }
  const double hours = std::floor(whole_seconds / kSecondsPerHour);
  const double minutes = std::floor((whole_seconds - hours * kSecondsPerHour) / kSecondsPerMinute);
  return fmt::format("{:.0f}h{:02.0f}m", hours, minutes);
}

std::optional<double> eta_seconds(double done, double total, double elapsed_seconds) {
  const bool usable = std::isfinite(done) && std::isfinite(total) && std::isfinite(elapsed_seconds) &&
                      done > 0 && total > 0 && elapsed_seconds >= 0;
  if (!usable) {
    return std::nullopt;
  }
  return std::max(0.0, (total - done) * elapsed_seconds / done);
}

}  // namespace greentune
