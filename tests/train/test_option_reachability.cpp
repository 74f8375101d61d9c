// Every option of the train option table reaches a run through each way a user gives it: a command-line
// flag, a --config file and a study file's [base] (the options a study sets itself excepted, and refused
// there by name). Each option gets a value other than its default, and the configuration greentune prints
// with --dry-run must hold it: an option a channel rejects, ignores or misreads fails here.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>

#include "../model/model_test_support.hpp"
#include "greentune/study/plan.hpp"
#include "greentune/train/train_options.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

using train::TrainOptions;

// An option given a value: its arguments as a command line gives them, and the JSON the run must show.
struct Given {
  const Option<TrainOptions>* option;
  std::vector<std::string> arguments;  // empty: a flag given bare (or its negation, when negated)
  bool negated = false;
  nlohmann::json expected;
};

// The first of the candidates that the option reads, that train::validate accepts on top of base, and that
// differs from the default; nullopt when none does.
std::optional<Given> other_value(const Option<TrainOptions>& option, const TrainOptions& base,
                                 const std::vector<std::vector<std::string>>& candidates) {
  const nlohmann::json default_value = option.get(TrainOptions{});
  for (const std::vector<std::string>& arguments : candidates) {
    TrainOptions options = base;
    try {
      option.set(options, arguments);
      train::validate(options);
    } catch (const Error&) {
      continue;
    }
    if (option.get(options) != default_value)
      return Given{&option, arguments, false, option.get(options)};
  }
  return std::nullopt;
}

// A value other than the default for every option of the table.
std::vector<Given> values_for_every_option(const TempDir& dir, const TrainOptions& base) {
  const std::string existing_file = (dir / "reviews.jsonl").string();
  std::vector<Given> given;
  for (const Option<TrainOptions>& option : train::train_options()) {
    SCOPED_TRACE(option.name);
    if (option.arity == OptionArity::flag) {
      const bool default_on = option.get(TrainOptions{}) == true;
      given.push_back({&option, {}, default_on, !default_on});
      continue;
    }
    std::vector<std::vector<std::string>> candidates;
    if (option.path_kind != PathKind::none) {  // absolute paths: the same from every channel
      if (option.name == "model")
        candidates.push_back({(dir / "model").string()});
      candidates.push_back({existing_file});
      candidates.push_back({(dir / ("x-" + option.name)).string()});
    }
    // A choice's names, from what --help shows: "{adamw,adam,sgd}" or "table|electricitymaps".
    std::string names = option.type_name;
    if (names.starts_with("{"))
      names = names.substr(1, names.size() - 2);
    if (names.find(',') != std::string::npos || names.find('|') != std::string::npos) {
      std::string name;
      for (const char c : names + ",") {
        if (c == ',' || c == '|') {
          candidates.push_back({name});
          name.clear();
        } else {
          name += c;
        }
      }
    }
    for (const char* number : {"3", "2", "1", "0.5", "0.25", "0"})
      candidates.push_back({number});
    candidates.push_back({"0.8", "0.95"});  // --betas
    candidates.push_back({"neg", "pos"});   // --labels
    candidates.push_back({"cpu"});          // --device
    candidates.push_back({"FR"});           // text
    const std::optional<Given> value = other_value(option, base, candidates);
    EXPECT_TRUE(value.has_value()) << "the test has no value for --" << option.name << ": add one";
    if (value)
      given.push_back(*value);
  }
  return given;
}

std::string command_line_of(const Given& given) {
  if (given.option->arity == OptionArity::flag)
    return " --" + (given.negated ? given.option->negation : given.option->name);
  std::string text = " " + given.option->flag() + " '";
  for (size_t i = 0; i < given.arguments.size(); ++i)
    text += (i > 0 ? "," : "") + given.arguments[i];
  return text + "'";
}

std::string toml_of(const Given& given) {
  const nlohmann::json& value = given.expected;
  if (given.option->arity == OptionArity::flag)
    return given.option->name + " = " + (value == true ? "true" : "false") + "\n";
  if (value.is_array() || given.arguments.size() > 1) {
    nlohmann::json list = nlohmann::json::array();
    for (const std::string& argument : given.arguments)
      list.push_back(argument);
    return given.option->name + " = " + (value.is_array() && !value.empty() ? value.dump() : list.dump()) +
           "\n";
  }
  // Numbers as TOML numbers, everything else as a string.
  const std::string& text = given.arguments.front();
  return given.option->name + " = " + (value.is_number() ? text : nlohmann::json(text).dump()) + "\n";
}

void expect_every_value(const nlohmann::json& resolved, const std::vector<Given>& given,
                        const std::string& channel) {
  for (const Given& value : given) {
    if (channel == "study" && study::is_reserved_study_option(value.option->name))
      continue;
    ASSERT_TRUE(resolved.contains(value.option->name)) << channel << ": no " << value.option->name;
    EXPECT_EQ(resolved.at(value.option->name), value.expected)
        << channel << ": --" << value.option->name << " did not arrive";
  }
}

TEST(OptionReachability, EveryOptionArrivesFromTheCommandLineAConfigFileAndAStudyFile) {
  TempDir dir;
  write_tiny_model_dir(dir / "model", "distilbert_tiny");
  write_numbered_reviews(dir / "reviews.jsonl", 40);
  TrainOptions base;
  base.data.path = dir / "reviews.jsonl";
  const std::vector<Given> given = values_for_every_option(dir, base);
  ASSERT_EQ(given.size(), train::train_options().size());

  std::string flags;
  for (const Given& value : given)
    flags += command_line_of(value);
  const CommandResult from_flags = run_cli("train --dry-run" + flags);
  ASSERT_EQ(from_flags.exit_code, 0) << from_flags.err;
  expect_every_value(nlohmann::json::parse(from_flags.out), given, "command line");

  std::string file;
  for (const Given& value : given)
    file += toml_of(value);
  write_text(dir / "config.toml", file);
  const CommandResult from_config =
      run_cli("train --dry-run --config '" + (dir / "config.toml").string() + "'");
  ASSERT_EQ(from_config.exit_code, 0) << from_config.err;
  expect_every_value(nlohmann::json::parse(from_config.out), given, "--config");

  std::string study = "name = \"every-option\"\nseeds = [1]\n[base]\n";
  for (const Given& value : given) {
    if (!study::is_reserved_study_option(value.option->name))
      study += toml_of(value);
  }
  write_text(dir / "study.toml", study + "[[variant]]\nname = \"only\"\n");
  const CommandResult from_study = run_cli("study --dry-run '" + (dir / "study.toml").string() + "'");
  ASSERT_EQ(from_study.exit_code, 0) << from_study.err;
  expect_every_value(nlohmann::json::parse(from_study.out).at("variants").at(0).at("options"), given,
                     "study");

  // The options a study sets itself are refused there by name.
  write_text(dir / "reserved.toml", "name = \"r\"\n[base]\noverwrite = true\n[[variant]]\nname = \"only\"\n");
  const CommandResult reserved = run_cli("study --dry-run '" + (dir / "reserved.toml").string() + "'");
  EXPECT_EQ(reserved.exit_code, 2);
  EXPECT_THAT(reserved.err, ::testing::HasSubstr("overwrite"));
}

}  // namespace
}  // namespace greentune::testing
