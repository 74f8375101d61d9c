#include "greentune/data/data_options.hpp"

namespace greentune::data {

namespace {

OptionTable<DataSpec> make_data_spec_options() {
  OptionTable<DataSpec> table;
  table.push_back(naming_file(
      text_option<DataSpec>(
          "data", [](auto& spec) -> auto& { return spec.path; },
          "Dataset: an aclImdb folder or .tar.gz, a .jsonl/.json, .csv or .tsv file, or \"imdb\" for the "
          "downloaded IMDB archive (fetched when missing); required"),
      PathKind::path_or_name));
  table.push_back(choice_option<DataSpec>(
      "format", [](auto& spec) -> auto& { return spec.format; }, parse_format,
      [](Format format) { return to_string(format); }, "{auto,imdb,jsonl,csv,tsv}",
      "auto, imdb, jsonl, csv or tsv"));
  table.push_back(text_option<DataSpec>(
      "text-column", [](auto& spec) -> auto& { return spec.text_column; },
      "JSONL field or CSV/TSV column of the text"));
  table.push_back(text_option<DataSpec>(
      "label-column", [](auto& spec) -> auto& { return spec.label_column; },
      "JSONL field or CSV/TSV column of the label"));
  table.push_back(text_list_option<DataSpec>(
      "labels", [](auto& spec) -> auto& { return spec.label_names; },
      "Label names in id order, comma-separated (e.g. neg,pos); default: ints as they are, strings sorted"));
  return table;
}

}  // namespace

const OptionTable<DataSpec>& data_spec_options() {
  static const OptionTable<DataSpec> table = make_data_spec_options();
  return table;
}

}  // namespace greentune::data
