#include "greentune/text/jsonl_tokenize.hpp"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/core/parallel.hpp"
#include "greentune/core/strings.hpp"

namespace greentune::text {

namespace {

struct LineRange {
  size_t begin = 0;       // byte offset of the first line
  size_t end = 0;         // byte offset past the last line
  size_t first_line = 1;  // 1-based line number of the first line
};

// Cuts the input into at most `parts` ranges of whole lines with about equal byte counts.
std::vector<LineRange> split_lines(std::string_view input, unsigned parts) {
  std::vector<LineRange> ranges;
  size_t begin = 0;
  size_t line = 1;
  for (unsigned part = 0; part < parts && begin < input.size(); ++part) {
    size_t end = part + 1 == parts ? input.size() : std::min(input.size(), begin + input.size() / parts);
    if (end < input.size()) {
      const size_t newline = input.find('\n', end);
      end = newline == std::string_view::npos ? input.size() : newline + 1;
    }
    ranges.push_back({begin, end, line});
    line += static_cast<size_t>(std::count(input.begin() + begin, input.begin() + end, '\n'));
    begin = end;
  }
  return ranges;
}

struct ChunkResult {
  std::string output;
  JsonlTokenizeReport report;
};

void tokenize_range(const WordPieceTokenizer& tokenizer, std::string_view input, const LineRange& range,
                    const JsonlTokenizeOptions& options, const std::vector<std::string>& escaped_tokens,
                    ChunkResult& result) {
  std::vector<int32_t> ids;
  EncodeStats stats;
  // Ids written as text take about as many bytes as English input (~4.5 characters a token, ~7 bytes
  // an id): reserving avoids regrowing tens of megabytes.
  result.output.reserve((range.end - range.begin) * 3 / 2);
  size_t line_number = range.first_line;
  size_t position = range.begin;
  char number[16];
  while (position < range.end) {
    const size_t newline = input.find('\n', position);
    const size_t line_end = (newline == std::string_view::npos || newline >= range.end) ? range.end : newline;
    const std::string_view line = input.substr(position, line_end - position);
    position = line_end + 1;
    const size_t this_line = line_number++;
    if (is_blank(line, kJsonWhitespace))
      continue;

    const std::string text =
        text_of_json_line(line, options.input_name, this_line, &stats.invalid_utf8_sequences);
    ids.clear();
    tokenizer.encode(text, ids, &stats);
    truncate_encoding(ids, options.max_length);

    std::string& out = result.output;
    out += "{\"ids\": [";
    for (size_t i = 0; i < ids.size(); ++i) {
      if (i > 0)
        out += ", ";
      const auto [end, ec] = std::to_chars(number, number + sizeof number, ids[i]);
      out.append(number, end);
    }
    out += ']';
    if (options.show_tokens) {
      out += ", \"tokens\": [";
      for (size_t i = 0; i < ids.size(); ++i) {
        if (i > 0)
          out += ", ";
        out += escaped_tokens[static_cast<size_t>(ids[i])];
      }
      out += ']';
    }
    out += "}\n";
    ++result.report.lines;
  }
  result.report.invalid_utf8_sequences = stats.invalid_utf8_sequences;
}

}  // namespace

std::string text_of_json_line(std::string_view line, std::string_view input_name, size_t line_number,
                              size_t* utf8_repairs) {
  // JSON parsing rejects invalid UTF-8: repair it first (each bad sequence becomes U+FFFD, which
  // clean_text then drops, as Hugging Face does with text decoded with errors="replace").
  std::string repaired(line);
  const size_t repairs = sanitize_utf8(repaired);
  if (utf8_repairs != nullptr)
    *utf8_repairs += repairs;
  const nlohmann::json record = nlohmann::json::parse(repaired, nullptr, /*allow_exceptions=*/false);
  if (record.is_discarded()) {
    throw Error(ErrorCode::parse, location(input_name, line_number), "line is not valid JSON",
                "each line must be one JSON object such as {\"text\": \"...\"}");
  }
  const auto text = record.is_object() ? record.find("text") : record.end();
  if (!record.is_object() || text == record.end()) {
    throw Error(ErrorCode::parse, location(input_name, line_number), "line has no \"text\" field",
                "each line must be a JSON object with a string field \"text\"");
  }
  if (!text->is_string()) {
    throw Error(ErrorCode::parse, location(input_name, line_number), "\"text\" is not a string",
                "write the text as a JSON string");
  }
  return text->get<std::string>();
}

JsonlTokenizeReport tokenize_jsonl(const WordPieceTokenizer& tokenizer, std::string_view input,
                                   std::string& output, const JsonlTokenizeOptions& options) {
  if (options.max_length < 2) {
    throw Error(ErrorCode::usage, "--max-length", "must be at least 2 ([CLS] and [SEP])",
                "pass --max-length 2 or more (512 for BERT models)");
  }
  std::vector<std::string> escaped_tokens;
  if (options.show_tokens) {
    escaped_tokens.reserve(tokenizer.vocab().size());
    for (size_t id = 0; id < tokenizer.vocab().size(); ++id) {
      escaped_tokens.push_back(nlohmann::json(tokenizer.vocab().token(static_cast<int32_t>(id))).dump());
    }
  }
  const unsigned threads = resolve_thread_count(options.threads);
  const std::vector<LineRange> ranges = split_lines(input, threads);
  std::vector<ChunkResult> results(ranges.size());
  // Ranges are in input order and the lowest failing one's error is rethrown: the first bad line wins.
  parallel_for(ranges.size(), threads, [&](size_t range) {
    tokenize_range(tokenizer, input, ranges[range], options, escaped_tokens, results[range]);
  });
  JsonlTokenizeReport report;
  size_t total_size = 0;
  for (const auto& result : results) {
    report.lines += result.report.lines;
    report.invalid_utf8_sequences += result.report.invalid_utf8_sequences;
    total_size += result.output.size();
  }
  output.clear();
  output.reserve(total_size);
  for (const auto& result : results)
    output += result.output;
  return report;
}

}  // namespace greentune::text
