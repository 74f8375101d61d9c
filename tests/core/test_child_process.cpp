// run_child: exit statuses, a program that cannot start, its output in a file, and its own peak memory
// (not this process's, which wait4's ru_maxrss would report after a spawn from a large process).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <vector>

#include "greentune/core/child_process.hpp"
#include "test_support.hpp"

namespace greentune {
namespace {

using ::testing::HasSubstr;

TEST(ChildProcess, ReportsTheExitStatusTheSignalAndAProgramThatCannotStart) {
  EXPECT_EQ(run_child({"sh", "-c", "exit 3"}).exit_status, 3);
  const ChildExit killed = run_child({"sh", "-c", "kill -TERM $$"});
  EXPECT_TRUE(killed.started);
  EXPECT_EQ(killed.exit_status, 128 + SIGTERM);
  EXPECT_EQ(killed.signal, SIGTERM);
  EXPECT_FALSE(killed.received_signal.has_value());  // it killed itself: nothing reached greentune

  const ChildExit missing = run_child({"greentune-no-such-program"});
  EXPECT_FALSE(missing.started);
  EXPECT_EQ(missing.exit_status, 127);
  EXPECT_EQ(missing.start_error, "No such file or directory");
}

TEST(ChildProcess, TheOutputGoesToTheFileAppended) {
  testing::TempDir dir;
  testing::write_text(dir / "out.log", "earlier\n");
  const ChildExit exit = run_child({"sh", "-c", "echo out; echo err >&2"}, ChildOptions{dir / "out.log"});
  EXPECT_EQ(exit.exit_status, 0);
  EXPECT_EQ(testing::read_text(dir / "out.log"), "earlier\nout\nerr\n");
}

TEST(ChildProcess, ThePeakMemoryIsTheProgramsNotThisProcesss) {
  // This process holds 512 MiB; dd fills one 96 MiB buffer again and again for a few hundred ms.
  std::vector<char> held(size_t{512} << 20, 1);
  const ChildExit dd = run_child({"dd", "if=/dev/zero", "of=/dev/null", "bs=96M", "count=40", "status=none"});
  ASSERT_EQ(dd.exit_status, 0);
  EXPECT_GT(dd.peak_memory_mb, 96.0);
  EXPECT_LT(dd.peak_memory_mb, 256.0) << "this process's " << (held.size() >> 20) << " MiB were counted";
}

}  // namespace
}  // namespace greentune
