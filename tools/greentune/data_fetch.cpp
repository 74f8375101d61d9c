// `greentune data fetch NAME`: download a dataset into the data directory, verify it, print its path.
#include <fmt/core.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "commands.hpp"
#include "greentune/core/error.hpp"
#include "greentune/data/fetch.hpp"
#include "numeric_flags.hpp"

namespace greentune::cli {

namespace {

struct DataFetchArguments {
  std::string dataset;
  std::string url;
  std::string sha256;
  std::optional<uint64_t> size_bytes;
  bool force = false;
  std::string data_dir;
};

void run_data_fetch(const DataFetchArguments& arguments) {
  if (arguments.dataset != "imdb") {
    throw Error(ErrorCode::usage, "", fmt::format("unknown dataset '{}'", arguments.dataset),
                "known datasets: imdb");
  }
  data::FetchImdbOptions options;
  options.url = arguments.url;
  options.expected_sha256 = arguments.sha256;
  options.expected_size_bytes = arguments.size_bytes;
  options.force = arguments.force;
  options.data_dir = arguments.data_dir;
  const std::filesystem::path archive = data::fetch_imdb(options);
  fmt::print("{}\n", std::filesystem::absolute(archive).string());
}

}  // namespace

void add_data_fetch_command(CLI::App& data) {
  auto arguments = std::make_shared<DataFetchArguments>();
  CLI::App* fetch = data.add_subcommand(
      "fetch",
      "Download a dataset into the data directory ($GREENTUNE_DATA_DIR, default ~/.cache/greentune), verify "
      "its size and SHA-256, and print its path; a verified copy already there is reused");
  fetch->add_option("dataset", arguments->dataset, "Dataset to download (known: imdb)")->required();
  fetch->add_option(
      "--url", arguments->url,
      "Download from this URL (a mirror, or file:// for a copy on disk) instead of the official "
      "one; default $GREENTUNE_IMDB_URL");
  fetch->add_option("--sha256", arguments->sha256, "Expected SHA-256 (hex) when the URL serves another file");
  fetch
      ->add_option("--size", arguments->size_bytes, "Expected size in bytes when the URL serves another file")
      ->check(in_range(whole_at_least(1)));
  fetch->add_flag("--force", arguments->force, "Download again even when a verified copy exists");
  fetch->add_option("--data-dir", arguments->data_dir,
                    "Data directory to use instead of $GREENTUNE_DATA_DIR");
  fetch->callback([arguments] { run_data_fetch(*arguments); });
}

}  // namespace greentune::cli
