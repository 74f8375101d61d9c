#include "suggestions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace greentune::cli {

namespace {

// The known name closest to word, when close enough to be a slip: at most 2 edits, or a third of the
// word's length for longer words.
std::optional<std::string> closest(std::string_view word, const std::vector<std::string>& known) {
  const size_t allowed = std::max<size_t>(2, word.size() / 3);
  std::optional<std::string> best;
  size_t best_distance = allowed + 1;
  for (const std::string& name : known) {
    const size_t distance = edit_distance(word, name);
    if (distance < best_distance) {
      best_distance = distance;
      best = name;
    }
  }
  return best;
}

std::vector<std::string> long_names_of(const CLI::App& command) {
  std::vector<std::string> names;
  for (const CLI::Option* option : command.get_options()) {
    for (const std::string& name : option->get_lnames())
      names.push_back(name);
  }
  return names;
}

}  // namespace

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substitution = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + substitution});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

std::optional<Suggestion> did_you_mean(CLI::App& app, int argc, const char* const* argv) {
  CLI::App* command = &app;
  std::string command_line = "greentune";
  for (int i = 1; i < argc; ++i) {
    const std::string_view word = argv[i];
    if (word == "--")
      break;
    if (word.starts_with("--")) {
      const std::string name(word.substr(
          2, word.find('=') == std::string_view::npos ? std::string_view::npos : word.find('=') - 2));
      if (command->get_option_no_throw("--" + name) != nullptr ||
          app.get_option_no_throw("--" + name) != nullptr)
        continue;
      if (const std::optional<std::string> best = closest(name, long_names_of(*command)))
        return Suggestion{fmt::format("unknown option --{}", name),
                          fmt::format("did you mean --{}? see `{} --help`", *best, command_line)};
      return std::nullopt;
    }
    if (word.starts_with("-"))
      continue;
    const std::vector<CLI::App*> subcommands = command->get_subcommands([](CLI::App*) { return true; });
    if (subcommands.empty())
      continue;  // an option's value or a positional argument
    const auto named = std::find_if(subcommands.begin(), subcommands.end(),
                                    [&](const CLI::App* sub) { return sub->get_name() == word; });
    if (named != subcommands.end()) {
      command = *named;
      command_line += " " + std::string(word);
      continue;
    }
    std::vector<std::string> names;
    for (const CLI::App* sub : subcommands)
      names.push_back(sub->get_name());
    const std::optional<std::string> best = closest(word, names);
    return Suggestion{fmt::format("unknown command \"{}\"", word),
                      best ? fmt::format("did you mean `{} {}`?", command_line, *best)
                           : fmt::format("see `{} --help` for the commands", command_line)};
  }
  return std::nullopt;
}

}  // namespace greentune::cli
