// Every numeric option refuses a value outside its range, or one that is no number, with one line of the
// same form: the option, the allowed range in words, the value given and the fix.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "test_support.hpp"

namespace greentune::testing {
namespace {

using ::testing::HasSubstr;

struct BadValue {
  std::string command;  // the subcommand with what it needs before the bad option
  std::string option;
  std::string value;
  std::string range;  // in words, as the message states it
};

TEST(OptionErrors, EveryNumericOptionNamesItsRangeTheValueAndTheFix) {
  const std::string train = "train --data x.jsonl";
  const std::string predict = "predict --model m --text t";
  const std::vector<BadValue> cases = {
      {train, "--lr", "0", "a number greater than 0"},
      {train, "--lr", "fast", "a number greater than 0"},
      {train, "--eps", "-1e-8", "a number greater than 0"},
      {train, "--batch-size", "0", "a whole number from 1 to 65536"},
      {train, "--batch-size", "2.5", "a whole number from 1 to 65536"},
      {train, "--max-length", "1", "a whole number from 2 to 65536"},
      {train, "--epochs", "-1", "a whole number from 0 to 1048576"},
      {train, "--max-steps", "-3", "a whole number of at least 0"},
      {train, "--betas", "0.9,1", "a number of at least 0 and below 1"},
      {train, "--momentum", "1.5", "a number from 0 to 1"},
      {train, "--weight-decay", "-0.01", "a number of at least 0"},
      {train, "--warmup-ratio", "nan", "a number from 0 to 1"},
      {train, "--label-smoothing", "1", "a number of at least 0 and below 1"},
      {train, "--dropout", "1", "a number of at least 0 and below 1"},
      {train, "--grad-accum", "0", "a whole number from 1 to 65536"},
      {train, "--max-grad-norm", "-1", "a number of at least 0"},
      {train, "--log-every", "0", "a whole number from 1 to 1073741824"},
      {train, "--early-stopping-patience", "-1", "a whole number of at least 0"},
      {train, "--target-accuracy", "95", "a number from 0 to 1"},
      {train, "--threads", "-2", "a whole number from 0 to 4096"},
      {train, "--validation-fraction", "1", "a number of at least 0 and below 1"},
      {train, "--seed", "-1", "a whole number of at least 0"},
      {train, "--pue", "0.5", "a number from 1 to 5"},
      {train, "--interval-ms", "0", "a whole number from 1 to 60000"},
      {train, "--group-timeout", "0", "a whole number from 1 to 1073741824"},
      {predict, "--batch-size", "many", "a whole number from 1 to 65536"},
      {predict, "--max-length", "1", "a whole number from 2 to 1048576"},
      {"eval --model m --data x.jsonl", "--threads", "1.5", "a whole number from 0 to 4096"},
      {"tokenize", "--threads", "0", "a whole number from 1 to 1024"},
      {"data stats --data x.jsonl", "--max-length", "0", "a whole number from 2 to 1048576"},
      {"measure", "--carbon-intensity", "-5", "a number of at least 0"},
      {"data fetch imdb", "--size", "0", "a whole number of at least 1"},
  };
  for (const BadValue& bad : cases) {
    const CommandResult result = run_cli(bad.command + " " + bad.option + " '" + bad.value + "'");
    SCOPED_TRACE(bad.command + " " + bad.option + " " + bad.value);
    EXPECT_EQ(result.exit_code, 2);
    // The first value of a list is fine where the second is not (--betas 0.9,1).
    const std::string shown =
        bad.value.substr(bad.value.find(',') == std::string::npos ? 0 : bad.value.find(',') + 1);
    EXPECT_EQ(result.err, "greentune: error [usage]: " + bad.option + ": must be " + bad.range + ", got " +
                              shown + " (fix: pass " + bad.range + ")\n");
  }
}

TEST(OptionErrors, AConfigFileValueOutOfRangeNamesTheFileLineAndKey) {
  TempDir dir;
  write_text(dir / "train.toml", "batch-size = 4\nlr = 0.0\n");
  const CommandResult result =
      run_cli("train --data x.jsonl --config '" + (dir / "train.toml").string() + "'");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err,
              HasSubstr("train.toml:2: key \"lr\": --lr: must be a number greater than 0, got 0"));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '('), 1) << "one fix: " << result.err;
}

TEST(OptionErrors, OtherCommandLineMistakesAreOneLineWithTheHelpToSee) {
  const CommandResult result = run_cli("train --learning-rate 0.1");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("greentune: error [usage]: "));
  EXPECT_THAT(result.err, HasSubstr("--learning-rate"));
  EXPECT_THAT(result.err, HasSubstr("(fix: see `greentune train --help`)"));
  EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
}

// A slip in a command or option name is one line that names the word and what was likely meant.
TEST(OptionErrors, AMistypedCommandOrOptionSaysWhatWasMeant) {
  const struct {
    std::string arguments, expected;
  } cases[] = {
      {"trian",
       "greentune: error [usage]: unknown command \"trian\" (fix: did you mean `greentune train`?)\n"},
      {"data stat",
       "greentune: error [usage]: unknown command \"stat\" (fix: did you mean `greentune data stats`?)\n"},
      {"train --lrr 0.1",
       "greentune: error [usage]: unknown option --lrr (fix: did you mean --lr? see `greentune train "
       "--help`)\n"},
      {"study x.toml --redo-changd",
       "greentune: error [usage]: unknown option --redo-changd (fix: did you mean --redo-changed? see "
       "`greentune study --help`)\n"},
  };
  for (const auto& [arguments, expected] : cases) {
    const CommandResult result = run_cli(arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments;
    EXPECT_EQ(result.err, expected) << arguments;
  }
  // A word close to nothing known still says where to look.
  EXPECT_THAT(run_cli("xyzzyplugh").err,
              HasSubstr("unknown command \"xyzzyplugh\" (fix: see `greentune --help`"));
}

// Output paths are checked before the work: eval --output naming a file fails before the model is even
// loaded (here it does not exist, so evaluating first would fail differently).
TEST(OptionErrors, AnOutputThatIsAFileFailsBeforeTheWork) {
  TempDir dir;
  write_text(dir / "result.json", "{}");
  const CommandResult result =
      run_cli("eval --model '" + (dir / "no-model").string() + "' --data '" +
              (dir / "no-data.jsonl").string() + "' --output '" + (dir / "result.json").string() + "'");
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_THAT(result.err, HasSubstr("--output " + (dir / "result.json").string() + ": is a file"));
}

// A bad --set value of a study names --set KEY, not the study file (where the value is not).
TEST(OptionErrors, AStudysSetValueIsBlamedOnSet) {
  TempDir dir;
  write_text(dir / "study.toml", "name = \"s\"\n[base]\ndata = \"x.jsonl\"\n[[variant]]\nname = \"a\"\n");
  const CommandResult result = run_cli("study '" + (dir / "study.toml").string() + "' --set precision=fp8");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--set precision: --precision: unknown precision \"fp8\""));
  EXPECT_THAT(result.err, ::testing::Not(HasSubstr("study.toml")));
  // Also when the value is well-formed but not possible here (fp16 on a CPU, found by the run's checks).
  const CommandResult cpu_fp16 =
      run_cli("study '" + (dir / "study.toml").string() + "' --set precision=fp16 --set device=cpu");
  EXPECT_EQ(cpu_fp16.exit_code, 2);
  EXPECT_THAT(cpu_fp16.err, HasSubstr("greentune: error [usage]: --set precision: "));
  EXPECT_THAT(cpu_fp16.err, HasSubstr("fp16 needs a CUDA GPU"));
  EXPECT_THAT(cpu_fp16.err, ::testing::Not(HasSubstr("study.toml")));
}

TEST(OptionErrors, ADeviceThatCannotRunIsOneErrorBeforeAnyWork) {
  const CommandResult unknown = run_cli("train --data x.jsonl --device gpu");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_EQ(
      unknown.err,
      "greentune: error [usage]: --device: unknown device \"gpu\" (fix: use cpu, cuda, cuda:N (N from 0) "
      "or auto)\n");
  if (std::filesystem::exists("/dev/nvidiactl"))
    GTEST_SKIP() << "this machine has an NVIDIA driver: cuda may be usable here";
  // The data file does not exist: the device is refused first, before any data or model is read.
  for (const std::string command :
       {"train --data x.jsonl", "eval --model m --data x.jsonl", "predict --model m --text t"}) {
    SCOPED_TRACE(command);
    const CommandResult result = run_cli(command + " --device cuda");
    EXPECT_EQ(result.exit_code, 2);
    EXPECT_THAT(result.err, HasSubstr("greentune: error [usage]: --device: cuda is not available"));
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
}

}  // namespace
}  // namespace greentune::testing
