// Study files: base + variants + grid expansion, defaults, and every kind of bad input named by line and key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "greentune/core/error.hpp"
#include "greentune/study/plan.hpp"
#include "test_support.hpp"

namespace greentune::study {
namespace {

using ::testing::HasSubstr;

StudyPlan plan_of(const testing::TempDir& dir, const std::string& text) {
  testing::write_text(dir / "study.toml", text);
  return read_study_file(dir / "study.toml");
}

// The Error read_study_file throws for text, or a failed test.
Error error_of(const testing::TempDir& dir, const std::string& text) {
  try {
    plan_of(dir, text);
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "accepted:\n" << text;
  return Error(ErrorCode::internal, "", "", "");
}

const Setting* find(const Variant& variant, const std::string& key) {
  for (const Setting& setting : variant.settings) {
    if (setting.key == key)
      return &setting;
  }
  return nullptr;
}

TEST(StudyPlan, VariantsOverrideTheBaseAndTheGridExpandsToItsProduct) {
  testing::TempDir dir;
  const StudyPlan plan = plan_of(dir, R"(name = "demo"
seeds = [7, 8]
baseline = "fp32"
energy-budget-kwh = 0.5
[base]
max-length = 128
precision = "fp32"
betas = [0.9, 0.98]
[[variant]]
name = "fp32"
[[variant]]
name = "bf16"
precision = "bf16"
[grid]
optimizer = ["adam", "sgd"]
lr = [1e-5, 5e-5]
)");
  EXPECT_EQ(plan.name, "demo");
  EXPECT_EQ(plan.seeds, (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(plan.baseline, "fp32");
  ASSERT_EQ(plan.variants.size(), 6u);  // 2 listed + 2 x 2 from the grid
  EXPECT_TRUE(plan.variants[0].overrides.empty());
  EXPECT_EQ(plan.variants[1].overrides, (std::map<std::string, std::string>{{"precision", "bf16"}}));
  EXPECT_EQ(find(plan.variants[1], "precision")->arguments, (std::vector<std::string>{"bf16"}));
  EXPECT_EQ(find(plan.variants[1], "max-length")->arguments, (std::vector<std::string>{"128"}));
  EXPECT_EQ(find(plan.variants[1], "betas")->arguments, (std::vector<std::string>{"0.9", "0.98"}));
  EXPECT_EQ(find(plan.variants[1], "energy-budget-kwh")->text, "0.5");
  EXPECT_EQ(find(plan.variants[1], "precision")->line, 13);

  std::vector<std::string> grid_names;
  for (size_t i = 2; i < plan.variants.size(); ++i)
    grid_names.push_back(plan.variants[i].name);
  EXPECT_THAT(grid_names,
              ::testing::UnorderedElementsAre("lr=1e-05,optimizer=adam", "lr=1e-05,optimizer=sgd",
                                              "lr=5e-05,optimizer=adam", "lr=5e-05,optimizer=sgd"));
  EXPECT_EQ(plan.variants[2].overrides.size(), 2u);
  EXPECT_EQ(run_name("bf16", 8), "bf16-seed8");
}

TEST(StudyPlan, DefaultsAreThreeSeedsTheFileNameAndTheFirstVariantAsBaseline) {
  testing::TempDir dir;
  const StudyPlan plan = plan_of(dir, "[[variant]]\nname = \"a\"\n[[variant]]\nname = \"b\"\nlr = 1e-4\n");
  EXPECT_EQ(plan.name, "study");
  EXPECT_EQ(plan.seeds, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(plan.baseline, "a");
  EXPECT_FALSE(plan.skip_emulated_bf16);
  EXPECT_TRUE(plan_of(dir, "skip-emulated-bf16 = true\n[[variant]]\nname = \"a\"\n").skip_emulated_bf16);
  EXPECT_EQ(plan.description, "");
  EXPECT_EQ(plan_of(dir, "description = \"\"\"Two seeds, 4,000 reviews.\"\"\"\n[[variant]]\nname = \"a\"\n")
                .description,
            "Two seeds, 4,000 reviews.");
}

TEST(StudyPlan, BadInputIsAClearErrorNamingFileLineAndKey) {
  testing::TempDir dir;
  const auto expect = [&](const std::string& text, const std::string& location, const std::string& what) {
    const Error error = error_of(dir, text);
    EXPECT_THAT(error.what(), HasSubstr(location)) << text;
    EXPECT_THAT(error.what(), HasSubstr(what)) << text;
  };
  expect("baseline = \"nope\"\n[[variant]]\nname = \"a\"\n", "study.toml:1: key \"baseline\"",
         "no variant is named \"nope\"");
  expect("[[variant]]\nname = \"a\"\n[[variant]]\nname = \"a\"\n", "study.toml:4: key \"name\"",
         "variant \"a\" is defined twice");
  expect("[grid]\n", "key \"grid\"", "the grid is empty");
  expect("[grid]\nlr = []\n", "study.toml:2: key \"lr\"", "non-empty list");
  expect("[[variant]]\nname = \"a\"\n[base]\noutput = \"x\"\n", "study.toml:4: key \"output\"",
         "set by the study");
  expect("[[variant]]\nname = \"a\"\nseed = 3\n", "key \"seed\"", "set by the study");
  expect("epochs = 3\n[[variant]]\nname = \"a\"\n", "study.toml:1: key \"epochs\"", "unknown key");
  expect("seeds = [1, 1]\n[[variant]]\nname = \"a\"\n", "key \"seeds\"", "listed twice");
  expect("seeds = [\"one\"]\n[[variant]]\nname = \"a\"\n", "key \"seeds\"", "non-negative integer");
  expect("target-accuracy = 2\n[[variant]]\nname = \"a\"\n", "key \"target-accuracy\"", "[0, 1]");
  expect("skip-emulated-bf16 = \"yes\"\n[[variant]]\nname = \"a\"\n",
         "study.toml:1: key \"skip-emulated-bf16\"", "expected true or false");
  expect("[[variant]]\nlr = 1e-4\n", "key \"name\"", "a variant needs a name");
  expect("description = 3\n[[variant]]\nname = \"a\"\n", "study.toml:1: key \"description\"",
         "expected a string");
  expect("[[variant]]\nname = \"a\"\nlr = {x = 1}\n", "study.toml:3: key \"lr\"",
         "string, number or boolean");
  expect("name = \"x\"\n", "study.toml", "no variants");
  expect("[[variant]\nname = 1\n", "study.toml:1", "");  // TOML syntax
}

// A study is at most kMaxStudyRuns (10,000) runs, checked before the grid is expanded: 10 keys of 10
// values (10^10 variants) once ran out of memory, and a long seeds list took seconds of a quadratic check.
TEST(StudyPlan, MoreRunsThanAStudyMayHoldIsAUsageErrorBeforeAnyVariantIsBuilt) {
  testing::TempDir dir;
  std::string grid = "[grid]\n";
  for (int key = 0; key < 10; ++key)
    grid += "k" + std::to_string(key) + " = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
  Error error = error_of(dir, grid);
  EXPECT_EQ(error.code(), ErrorCode::usage);
  EXPECT_THAT(error.what(), HasSubstr("asks for over 10000 variants x 3 seeds, more than the 10000 runs"));

  // 3,334 variants x 3 seeds = 10,002 runs: just over; 3,333 x 3 = 9,999 runs are a study.
  std::string values;
  for (int value = 0; value < 3334; ++value)
    values += (value ? "," : "") + std::to_string(value);
  error = error_of(dir, "[grid]\na = [" + values + "]\n");
  EXPECT_THAT(error.what(), HasSubstr("asks for 3334 variants x 3 seeds"));
  values.erase(values.rfind(','));
  EXPECT_EQ(plan_of(dir, "[grid]\na = [" + values + "]\n").variants.size(), 3333u);

  std::string seeds;
  for (int seed = 0; seed < 20'000; ++seed)
    seeds += (seed ? "," : "") + std::to_string(seed);
  error = error_of(dir, "seeds = [" + seeds + "]\n[[variant]]\nname = \"a\"\n");
  EXPECT_THAT(error.what(), HasSubstr("study.toml:1: key \"seeds\""));
  EXPECT_THAT(error.what(), HasSubstr("lists 20000 seeds, more than the 10000 runs"));
}

// Non-ASCII characters are TOML only inside strings and comments; elsewhere toml++ 3.3.0 reaches undefined
// behaviour, so they are a parse error naming the line and column before toml++ sees them.
TEST(StudyPlan, NonAsciiOutsideStringsIsAParseErrorAtItsLineAndColumn) {
  testing::TempDir dir;
  Error error = error_of(dir, "[[variant]]\nname = \"a\"\n[base]\ncaf\xC3\xA9 = 1\n");
  EXPECT_EQ(error.code(), ErrorCode::parse);
  EXPECT_THAT(error.what(), HasSubstr("study.toml:4:4"));
  EXPECT_THAT(error.what(), HasSubstr("non-ASCII character outside a string or comment"));
  EXPECT_THAT(error_of(dir, "[[variant]]\nname = \xC3\xA9\n").what(), HasSubstr("study.toml:2:8"));
  EXPECT_THAT(error_of(dir, "[[variant]]\nname = \"a\"\xC3\xA9\n").what(), HasSubstr("study.toml:2:11"));

  // Inside strings of every kind, in quoted keys and in comments they are fine.
  const StudyPlan plan = plan_of(dir,
                                 "\xEF\xBB\xBF# caf\xC3\xA9\nname = \"caf\xC3\xA9 \\\" \xC3\xA9\"\n"
                                 "[[variant]]\nname = '\xC3\xA9'  # \xC3\xA9\n"
                                 "[[variant]]\nname = \"\"\"\xC3\xA9\"\"\"\"\n"
                                 "[[variant]]\nname = '''\nx\xC3\xA9'''\n\"\xC3\xA9\" = 1\n");
  EXPECT_EQ(plan.name, "caf\xC3\xA9 \" \xC3\xA9");
  ASSERT_EQ(plan.variants.size(), 3u);
  EXPECT_EQ(plan.variants[1].name, "\xC3\xA9\"");
  EXPECT_EQ(plan.variants[2].name, "x\xC3\xA9");
}

TEST(StudyPlan, AVariantWithACommandKeepsBaseSettingsAndTheResultsKeys) {
  testing::TempDir dir;
  const StudyPlan plan = plan_of(dir, R"([base]
max-length = 128
country = "FRA"
[[variant]]
name = "greentune"
[[variant]]
name = "hf-trainer"
command = ["python3", "train.py", "--seed", "{seed}"]
accuracy-key = "eval_acc"
)");
  ASSERT_EQ(plan.variants.size(), 2u);
  EXPECT_FALSE(plan.variants[0].external.has_value());
  const Variant& hf = plan.variants[1];
  ASSERT_TRUE(hf.external.has_value());
  EXPECT_EQ(hf.external->command, (std::vector<std::string>{"python3", "train.py", "--seed", "{seed}"}));
  EXPECT_EQ(hf.external->accuracy_key, "eval_acc");
  EXPECT_EQ(hf.external->eval_loss_key, "eval_loss");  // the Hugging Face Trainer's keys by default
  EXPECT_EQ(hf.external->results_file, "all_results.json");
  ASSERT_NE(find(hf, "country"), nullptr);  // [base]'s energy options measure it too
  EXPECT_EQ(hf.overrides,
            (std::map<std::string, std::string>{{"command", "python3 train.py --seed {seed}"}}));
  EXPECT_EQ(hf.line, 6);  // its [[variant]] header
}

TEST(StudyPlan, AVariantWithACommandRefusesTrainOptionsAndResultsFilesOutsideItsRun) {
  testing::TempDir dir;
  const Error train_option = error_of(dir, R"([[variant]]
name = "hf"
command = ["python3", "train.py"]
lr = 0.001
)");
  EXPECT_EQ(train_option.code(), ErrorCode::usage);
  EXPECT_THAT(train_option.what(), HasSubstr("study.toml:4: key \"lr\""));
  EXPECT_THAT(train_option.what(), HasSubstr("{KEY}"));
  EXPECT_THAT(error_of(dir, "[[variant]]\nname = \"hf\"\ncommand = []\n").what(),
              HasSubstr("study.toml:3: key \"command\": expected a non-empty list of strings"));
  EXPECT_THAT(error_of(dir, "[[variant]]\nname = \"hf\"\ncommand = [\"x\", 1]\n").what(),
              HasSubstr("key \"command\""));
  EXPECT_THAT(
      error_of(dir, "[[variant]]\nname = \"hf\"\ncommand = [\"x\"]\nresults-file = \"../r.json\"\n").what(),
      HasSubstr("study.toml:4: key \"results-file\": \"../r.json\" is not inside the run directory"));
  EXPECT_THAT(
      error_of(dir, "[[variant]]\nname = \"hf\"\ncommand = [\"x\"]\nresults-file = \"/tmp/r.json\"\n").what(),
      HasSubstr("is not inside the run directory"));
  EXPECT_THAT(error_of(dir, "[[variant]]\nname = \"plain\"\naccuracy-key = \"acc\"\n").what(),
              HasSubstr("study.toml:3: key \"accuracy-key\": belongs to a variant with a command"));
}

TEST(OptionFile, AFileOverOneMebibyteIsRefusedUnread) {
  testing::TempDir dir;
  testing::write_text(dir / "train.toml", "# " + std::string(kMaxOptionFileBytes, 'x') + "\nlr = 1\n");
  try {
    read_option_file(dir / "train.toml");
    ADD_FAILURE() << "accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_data);
    EXPECT_THAT(error.what(), HasSubstr("more than the 1048576 bytes"));
  }
}

TEST(OptionFile, KeysBecomeSettingsSortedByKeyWithTheirLines) {
  testing::TempDir dir;
  testing::write_text(dir / "train.toml",
                      "nesterov = true\nlr = 0.001\nlabels = [\"neg\", \"pos\"]\noutput = \"x\"\n");
  const std::vector<Setting> settings = read_option_file(dir / "train.toml");
  ASSERT_EQ(settings.size(), 4u);
  EXPECT_EQ(settings[0].key, "labels");
  EXPECT_EQ(settings[0].arguments, (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(settings[0].line, 3);
  EXPECT_EQ(settings[1].key, "lr");
  EXPECT_EQ(settings[1].arguments, (std::vector<std::string>{"0.001"}));
  EXPECT_EQ(settings[2].arguments, (std::vector<std::string>{"true"}));
  EXPECT_EQ(settings[3].key, "output");  // a train config may set it; only studies reserve it
}

}  // namespace
}  // namespace greentune::study
