#include "greentune/study/plan.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <optional>
#include <set>

#include "greentune/core/error.hpp"
#include "greentune/core/untrusted_file.hpp"

namespace greentune::study {

namespace {

// Options the study sets for every run itself.
const std::set<std::string, std::less<>> kStudyReservedOptions = {"output", "resume", "overwrite", "config",
                                                                  "seed"};

// The first byte of a non-ASCII character outside strings and comments, where TOML allows none (bare keys
// are ASCII letters, digits, - and _). toml++ 3.3.0, Debian 12's, reaches undefined behaviour (an
// unreachable branch of its whitespace table) on some of them, so it never sees such a text.
std::optional<size_t> non_ascii_outside_strings(std::string_view text) {
  constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";
  size_t at = text.starts_with(kUtf8Bom) ? kUtf8Bom.size() : 0;
  // Skips past the string that opens at `at` with quote (' or "): one line, or up to the closing triple
  // quote and the one or two quotes a multi-line string may end with. Backslash escapes only in "...".
  const auto skip_string = [&](char quote) {
    const std::string triple(3, quote);
    const bool multi_line = text.substr(at, 3) == triple;
    at += multi_line ? 3 : 1;
    while (at < text.size()) {
      if (quote == '"' && text[at] == '\\') {
        at += 2;
      } else if (multi_line ? text.substr(at, 3) == triple : text[at] == quote) {
        at += multi_line ? 3 : 1;
        for (int extra = 0; multi_line && extra < 2 && at < text.size() && text[at] == quote; ++extra)
          ++at;
        return;
      } else if (!multi_line && text[at] == '\n') {
        return;  // an unterminated string: toml++ reports it
      } else {
        ++at;
      }
    }
  };
  while (at < text.size()) {
    const char c = text[at];
    if (c == '#') {
      at = std::min(text.find('\n', at), text.size());
    } else if (c == '"' || c == '\'') {
      skip_string(c);
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      return at;
    } else {
      ++at;
    }
  }
  return std::nullopt;
}

toml::table parse_toml(const std::filesystem::path& file) {
  const std::string text =
      read_untrusted_file(file, kMaxOptionFileBytes, "give a study or option file of a few lines of TOML");
  if (const std::optional<size_t> at = non_ascii_outside_strings(text)) {
    const size_t line_start = text.rfind('\n', *at) + 1;  // npos + 1 is 0: the first line
    const auto line = 1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(*at), '\n');
    throw Error(ErrorCode::parse, fmt::format("{}:{}:{}", file.string(), line, *at - line_start + 1),
                "a non-ASCII character outside a string or comment (TOML keys and values are ASCII there)",
                "quote it: \"café\" = 1, or name = \"café\"");
  }
  try {
    return toml::parse(text, file.string());
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
  Variant variant{std::move(name), base, {}, line, std::nullopt};
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

// A [[variant]] with a command: [base]'s settings, its command and the keys of its results file.
Variant make_external_variant(const StudyFileReader& reader, std::string name, const toml::table& table,
                              const std::vector<Setting>& base, int line) {
  Variant variant{std::move(name), base, {}, line, ExternalCommand{}};
  ExternalCommand& external = *variant.external;
  for (const auto& [key_name, node] : table) {
    const std::string_view key = key_name.str();
    if (key == "name")
      continue;
    if (key == "command") {
      const auto* words = node.as_array();
      if (words == nullptr || words->empty() || !words->is_homogeneous(toml::node_type::string))
        reader.fail(node, key, "expected a non-empty list of strings: the program and its arguments",
                    "write e.g. command = [\"python3\", \"train.py\", \"--seed\", \"{seed}\"]");
      for (const auto& word : *words)
        external.command.push_back(word.as_string()->get());
      continue;
    }
    const auto known = std::find_if(std::begin(kExternalCommandKeys), std::end(kExternalCommandKeys),
                                    [&](const ExternalCommandKey& entry) { return entry.key == key; });
    if (known == std::end(kExternalCommandKeys)) {
      std::vector<std::string_view> keys = {"name", "command"};
      for (const ExternalCommandKey& entry : kExternalCommandKeys)
        keys.push_back(entry.key);
      reader.fail(node, key, "is not a key of a variant with a command (it runs no greentune train)",
                  fmt::format("pass the command's own options in command, {{KEY}} for [base]'s value of KEY; "
                              "such a variant takes {}",
                              fmt::join(keys, ", ")));
    }
    if (!node.is_string() || node.as_string()->get().empty())
      reader.fail(node, key, "expected a non-empty string", fmt::format("write e.g. {} = \"...\"", key));
    external.*(known->field) = node.as_string()->get();
  }
  const std::filesystem::path results_file(external.results_file);
  if (results_file.is_absolute() ||
      std::any_of(results_file.begin(), results_file.end(), [](const auto& part) { return part == ".."; })) {
    reader.fail(*table.get("results-file"), "results-file",
                fmt::format("\"{}\" is not inside the run directory", external.results_file),
                "name the file relative to the run directory the command writes into ({run_dir})");
  }
  variant.overrides["command"] = fmt::format("{}", fmt::join(external.command, " "));
  return variant;
}

// Before any variant is built: a grid of 10 keys of 10 values would be 10^10 of them.
void check_run_count(const std::filesystem::path& file, const toml::array* variant_tables,
                     const toml::table* grid, size_t seed_count) {
  constexpr uint64_t kBeyond = kMaxStudyRuns + 1;  // counts saturate here, so that no product overflows
  uint64_t grid_variants = grid != nullptr && !grid->empty() ? 1 : 0;
  if (grid != nullptr) {
    for (const auto& entry : *grid) {
      if (const auto* values = entry.second.as_array())
        grid_variants = std::min<uint64_t>(grid_variants * std::max<size_t>(values->size(), 1), kBeyond);
    }
  }
  const uint64_t variants =
      std::min<uint64_t>((variant_tables != nullptr ? variant_tables->size() : 0) + grid_variants, kBeyond);
  if (variants * seed_count > kMaxStudyRuns) {
    throw Error(
        ErrorCode::usage, file.string(),
        fmt::format("the study asks for {}{} variants x {} seeds, more than the {} runs a study may hold",
                    variants == kBeyond ? "over " : "", std::min(variants, kMaxStudyRuns), seed_count,
                    kMaxStudyRuns),
        "shrink the grid or the seeds list, or split the study into several files");
  }
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
    } else if (key == "description") {
      if (!node.is_string())
        reader.fail(node, key, "expected a string", "write description = \"...\"");
      plan.description = reader.scalar_text(node, key);
    } else if (key == "seeds") {
      const auto* seeds = node.as_array();
      if (seeds == nullptr || seeds->empty())
        reader.fail(node, key, "expected a non-empty list of seeds", "write e.g. seeds = [1, 2, 3]");
      if (seeds->size() > kMaxStudyRuns) {  // each seed is a run of every variant
        reader.fail(node, key,
                    fmt::format("lists {} seeds, more than the {} runs a study may hold", seeds->size(),
                                kMaxStudyRuns),
                    "list fewer seeds, or split the study into several files");
      }
      plan.seeds.clear();
      std::set<uint64_t> listed;
      for (const auto& seed : *seeds) {
        const std::optional<int64_t> value = seed.value<int64_t>();
        if (!value || *value < 0 || !seed.is_integer())
          reader.fail(seed, key, "a seed must be a non-negative integer", "write e.g. seeds = [1, 2, 3]");
        if (!listed.insert(static_cast<uint64_t>(*value)).second)
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
    } else if (key == "skip-emulated-bf16") {
      if (!node.is_boolean())
        reader.fail(node, key, "expected true or false", "write skip-emulated-bf16 = true");
      plan.skip_emulated_bf16 = node.value<bool>().value_or(false);
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
      reader.fail(node, key, "unknown key",
                  "use name, description, seeds, baseline, energy-budget-kwh, target-accuracy, "
                  "skip-emulated-bf16, [base], "
                  "[[variant]] or [grid]; "
                  "train options go under [base] or a variant");
    }
  }

  check_run_count(file, variant_tables, grid, plan.seeds.size());
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
      const int line = static_cast<int>(element.source().begin.line);
      if (table.contains("command")) {
        add_variant(make_external_variant(reader, name->as_string()->get(), table, base, line), *name);
      } else {
        for (const ExternalCommandKey& entry : kExternalCommandKeys) {
          if (const toml::node* stray = table.get(entry.key))
            reader.fail(*stray, entry.key, "belongs to a variant with a command, and this one has none",
                        "add command = [...] or remove the key");
        }
        add_variant(make_variant(name->as_string()->get(), base, reader.settings_of(table, "name"), line),
                    *name);
      }
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
