// A study directory's results.json (written by `greentune study`, then perhaps by a crash, a hand edit or
// a merge of shards) as `greentune report DIR` reads it: study::read_results checks every field, the
// finished runs' result.json included, and the report is written from what it read, plots skipped
// (GREENTUNE_GNUPLOT names no program). The same bytes are read as a run's result.json too.

#include <cstdlib>

#include "fuzz_support.hpp"
#include "greentune/report/report.hpp"
#include "greentune/study/results.hpp"
#include "greentune/train/run_result.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  setenv("GREENTUNE_GNUPLOT", "/nonexistent/gnuplot", 1);  // a child process per input would be too slow
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace greentune;
  const std::string_view text = fuzz::as_text(data, size);
  fuzz::write_scratch_file("results.json", text);
  fuzz::write_scratch_file(train::kRunResultFile, text);
  fuzz::read_untrusted([&] { report::write_report(fuzz::scratch_dir()); });
  fuzz::read_untrusted([&] { train::read_run_result(fuzz::scratch_dir()); });
  return 0;
}
