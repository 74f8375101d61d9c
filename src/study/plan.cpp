#include "greentune/study/plan.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <set>

#include "greentune/core/error.hpp"

namespace greentune::study {

namespace {

// Options the study sets for every run itself.
const std::set<std::string, std::less<>> kStudyReservedOptions = {"output", "resume", "config", "seed"};

toml::table parse_toml(const std::filesystem::path& file) {
  try {
    return toml::parse_file(file.string());
  } catch (const toml::parse_error& error) {
    throw Error(
        ErrorCode::parse,
        fmt::format("{}:{}:{}", file.string(), error.source().begin.line, error.source().begin.column),
        std::string(error.description()), "fix the TOML syntax");
  }
}

class StudyFileReader {
 public:
  StudyFileReader(std::filesystem::path file, const std::set<std::string, std::less<>>& reserved)
      : file_(std::move(file)), reserved_(reserved) {}

  [[noreturn]] void fail(const toml::node& node, std::string_view key, std::string what,
                         std::string fix) const {
    throw Error(ErrorCode::usage,
                fmt::format("{}:{}: key \"{}\"", file_.string(), node.source().begin.line, key),
                std::move(what), std::move(fix));
  }

  // A scalar as the text CLI11 would have received on the command line.
  std::string scalar_text(const toml::node& node, std::string_view key) const {
    if (const auto* text = node.as_string())
      return text->get();
    if (const auto* integer = node.as_integer())
      return std::to_string(integer->get());
    if (const auto* number = node.as_floating_point())
      return fmt::format("{}", number->get());
    if (const auto* boolean = node.as_boolean())
      return boolean->get() ? "true" : "false";
    fail(node, key, "expected a string, number or boolean", "write e.g. lr = 5e-5 or precision = \"bf16\"");
  }

  Setting setting(std::string_view key, const toml::node& node) const {
    if (reserved_.contains(key)) {
      fail(node, key, "is set by the study for every run",
           key == "seed" ? "list the seeds in the top-level seeds = [1, 2, 3]"
                         : "remove it: runs go to OUTPUT/runs/<variant>-seed<k>/ and resume by themselves");
    }
    Setting result{std::string(key), {}, "", static_cast<int>(node.source().begin.line)};
    if (const auto* array = node.as_array()) {
      for (const auto& element : *array)
        result.arguments.push_back(scalar_text(element, key));
    } else {
      result.arguments.push_back(scalar_text(node, key));
    }
    result.text = fmt::format("{}", fmt::join(result.arguments, ","));
    return result;
  }

  std::vector<Setting> settings_of(const toml::table& table, std::string_view skip = {}) const {
    std::vector<Setting> settings;
    for (const auto& [key, node] : table) {
      if (key.str() != skip)
        settings.push_back(setting(key.str(), node));
    }
    return settings;
  }

  const toml::table& table_of(const toml::node& node, std::string_view key) const {
    if (const auto* table = node.as_table())
      return *table;
    fail(node, key, "expected a table", fmt::format("write it as [{}] followed by its keys", key));
  }

  double number(const toml::node& node, std::string_view key, double low, double high) const {
    const std::optional<double> value = node.value<double>();
    if (!value || *value < low || *value > high)
      fail(node, key, fmt::format("expected a number in [{}, {}]", low, high), "write e.g. 0.9");
    return *value;
  }

 private:
  std::filesystem::path file_;
  const std::set<std::string, std::less<>>& reserved_;
};

// base with overrides applied: a key already in base is replaced in place, a new one appended.
Variant make_variant(std::string name, const std::vector<Setting>& base,
                     const std::vector<Setting>& overrides, int line) {
  Variant variant{std::move(name), base, {}, line};
  for (const Setting& override_setting : overrides) {
    const auto in_base = std::find_if(variant.settings.begin(), variant.settings.end(),
                                      [&](const Setting& s) { return s.key == override_setting.key; });
    if (in_base == variant.settings.end()) {
      variant.settings.push_back(override_setting);
      variant.overrides[override_setting.key] = override_setting.text;
    } else if (in_base->text != override_setting.text) {
      *in_base = override_setting;
      variant.overrides[override_setting.key] = override_setting.text;
    }
  }
  return variant;
}

}  // namespace

bool is_reserved_study_option(std::string_view key) {
  return kStudyReservedOptions.contains(key);
}

std::string run_name(const std::string& variant, uint64_t seed) {
  return fmt::format("{}-seed{}", variant, seed);
}

std::vector<Setting> read_option_file(const std::filesystem::path& file) {
  static const std::set<std::string, std::less<>> kNoneReserved;
  return StudyFileReader(file, kNoneReserved).settings_of(parse_toml(file));
}

StudyPlan read_study_file(const std::filesystem::path& file) {
  const toml::table root = parse_toml(file);
  const StudyFileReader reader(file, kStudyReservedOptions);
  StudyPlan plan;
  plan.file = file;
  plan.name = file.stem().string();
  plan.seeds = {1, 2, 3};
  std::vector<Setting> base;
  const toml::node* baseline_node = nullptr;
  const toml::array* variant_tables = nullptr;
  const toml::table* grid = nullptr;
  const toml::node* grid_node = nullptr;
  for (const auto& [key_name, node] : root) {
    const std::string_view key = key_name.str();
    if (key == "name") {
      plan.name = reader.scalar_text(node, key);
    } else if (key == "seeds") {
      const auto* seeds = node.as_array();
      if (seeds == nullptr || seeds->empty())
        reader.fail(node, key, "expected a non-empty list of seeds", "write e.g. seeds = [1, 2, 3]");
      plan.seeds.clear();
      for (const auto& seed : *seeds) {
        const std::optional<int64_t> value = seed.value<int64_t>();
        if (!value || *value < 0 || !seed.is_integer())
          reader.fail(seed, key, "a seed must be a non-negative integer", "write e.g. seeds = [1, 2, 3]");
        if (std::find(plan.seeds.begin(), plan.seeds.end(), static_cast<uint64_t>(*value)) !=
            plan.seeds.end())
          reader.fail(seed, key, fmt::format("seed {} is listed twice", *value), "list each seed once");
        plan.seeds.push_back(static_cast<uint64_t>(*value));
      }
    } else if (key == "baseline") {
      baseline_node = &node;
      plan.baseline = reader.scalar_text(node, key);
    } else if (key == "energy-budget-kwh") {
      reader.number(node, key, 0.0, 1e9);
      base.push_back(reader.setting(key, node));
    } else if (key == "target-accuracy") {
      reader.number(node, key, 0.0, 1.0);
      base.push_back(reader.setting(key, node));
    } else if (key == "base") {
      for (Setting& setting : reader.settings_of(reader.table_of(node, key)))
        base.push_back(std::move(setting));
    } else if (key == "variant") {
      variant_tables = node.as_array();
      if (variant_tables == nullptr || !variant_tables->is_array_of_tables())
        reader.fail(node, key, "expected [[variant]] tables",
                    "write each variant as [[variant]] with a name");
    } else if (key == "grid") {
      grid = &reader.table_of(node, key);
      grid_node = &node;
    } else {
      reader.fail(
          node, key, "unknown key",
          "use name, seeds, baseline, energy-budget-kwh, target-accuracy, [base], [[variant]] or [grid]; "
          "train options go under [base] or a variant");
    }
  }

  std::set<std::string, std::less<>> names;
  const auto add_variant = [&](Variant variant, const toml::node& node) {
    if (!names.insert(variant.name).second)
      reader.fail(node, "name", fmt::format("variant \"{}\" is defined twice", variant.name),
                  "rename one of them");
    plan.variants.push_back(std::move(variant));
  };
  if (variant_tables != nullptr) {
    for (const auto& element : *variant_tables) {
      const toml::table& table = *element.as_table();
      const toml::node* name = table.get("name");
      if (name == nullptr || !name->is_string() || name->as_string()->get().empty())
        reader.fail(element, "name", "a variant needs a name", "add name = \"...\" to the [[variant]]");
      add_variant(make_variant(name->as_string()->get(), base, reader.settings_of(table, "name"),
                               static_cast<int>(element.source().begin.line)),
                  *name);
    }
  }
  if (grid != nullptr) {
    // The product of the grid's lists, in the table's key order; each combination is one variant.
    std::vector<std::vector<Setting>> combinations = {{}};
    if (grid->empty())
      reader.fail(*grid_node, "grid", "the grid is empty",
                  "give each grid key a list, e.g. precision = [\"fp32\", \"bf16\"]");
    for (const auto& [key_name, node] : *grid) {
      const std::string_view key = key_name.str();
      const auto* values = node.as_array();
      if (values == nullptr || values->empty())
        reader.fail(node, key, "a grid key needs a non-empty list of values", "write e.g. lr = [1e-5, 5e-5]");
      std::vector<std::vector<Setting>> extended;
      for (const auto& combination : combinations) {
        for (const auto& value : *values) {
          Setting setting = reader.setting(key, value);
          setting.line = static_cast<int>(value.source().begin.line);
          auto with = combination;
          with.push_back(std::move(setting));
          extended.push_back(std::move(with));
        }
      }
      combinations = std::move(extended);
    }
    for (const auto& combination : combinations) {
      std::vector<std::string> parts;
      for (const Setting& setting : combination)
        parts.push_back(setting.key + "=" + setting.text);
      add_variant(make_variant(fmt::format("{}", fmt::join(parts, ",")), base, combination,
                               static_cast<int>(grid_node->source().begin.line)),
                  *grid_node);
    }
  }
  if (plan.variants.empty()) {
    throw Error(ErrorCode::usage, file.string(), "the study has no variants",
                "add [[variant]] tables (each with a name) or a [grid]");
  }
  if (baseline_node == nullptr) {
    plan.baseline = plan.variants.front().name;
  } else if (!names.contains(plan.baseline)) {
    reader.fail(*baseline_node, "baseline", fmt::format("no variant is named \"{}\"", plan.baseline),
                "name one of the variants");
  }
  return plan;
}

}  // namespace greentune::study
