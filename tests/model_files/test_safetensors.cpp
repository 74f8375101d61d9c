// safetensors: reading Hugging Face's files, writing byte-identical ones, rejecting every malformed header
// with an Error that names the file and the tensor, and the exact 16-bit float conversions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "greentune/core/error.hpp"
#include "greentune/model/safetensors.hpp"
#include "test_support.hpp"

namespace greentune::testing {
namespace {

namespace fs = std::filesystem;
using model::SafetensorsDtype;
using model::SafetensorsFile;
using model::SafetensorsTensor;
using model::write_safetensors;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const fs::path distilbert_dir = test_data_dir() / "model" / "distilbert_tiny";

template <typename T>
std::span<const std::byte> bytes_of(const std::vector<T>& values) {
  return std::as_bytes(std::span<const T>(values));
}

template <typename T>
std::vector<T> values_of(const SafetensorsTensor& tensor) {
  std::vector<T> values(tensor.bytes.size() / sizeof(T));
  std::memcpy(values.data(), tensor.bytes.data(), tensor.bytes.size());
  return values;
}

std::string string_of(std::span<const std::byte> bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// A safetensors file as bytes: the header's size as 8 little-endian bytes, the header, the data.
std::string file_bytes(uint64_t header_size, const std::string& header, const std::string& data) {
  std::string bytes;
  for (int position = 0; position < 8; ++position) {
    bytes.push_back(static_cast<char>((header_size >> (8 * position)) & 0xff));
  }
  return bytes + header + data;
}

std::string file_bytes(const std::string& header, const std::string& data) {
  return file_bytes(header.size(), header, data);
}

// Writes the bytes to a file, opens it, and returns the Error it must throw.
Error open_error(const TempDir& dir, const std::string& bytes) {
  const fs::path path = dir / "bad.safetensors";
  write_text(path, bytes);
  try {
    SafetensorsFile::open(path);
  } catch (const Error& error) {
    return error;
  }
  ADD_FAILURE() << "opening the malformed file did not throw";
  return Error(ErrorCode::internal, "", "no error");
}

TEST(Safetensors, ReadsTheHuggingFaceModelFile) {
  const SafetensorsFile file = SafetensorsFile::open(distilbert_dir / "model.safetensors");
  EXPECT_EQ(file.metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(file.tensors().size(), 40u);
  EXPECT_EQ(file.tensors().front().name, "classifier.bias");
  EXPECT_EQ(file.tensors().back().name, "pre_classifier.weight");

  const SafetensorsTensor& weight = file.tensor("classifier.weight");
  EXPECT_EQ(weight.dtype, SafetensorsDtype::F32);
  EXPECT_THAT(weight.shape, ElementsAre(2, 64));
  EXPECT_EQ(weight.element_count(), 128u);
  ASSERT_EQ(weight.bytes.size(), 512u);
  // The first two values as Python's struct.unpack reads them from the file.
  EXPECT_EQ(std::bit_cast<uint32_t>(values_of<float>(weight)[0]), 0x3c44b15eu);
  EXPECT_FLOAT_EQ(values_of<float>(weight)[1], -0.016134534f);

  const SafetensorsTensor& embeddings = file.tensor("distilbert.embeddings.word_embeddings.weight");
  EXPECT_THAT(embeddings.shape, ElementsAre(1000, 64));
  EXPECT_EQ(embeddings.element_count(), 64000u);
  EXPECT_EQ(values_of<float>(file.tensor("distilbert.embeddings.LayerNorm.weight")),
            std::vector<float>(64, 1.0f));

  // Every tensor's bytes follow the previous one's: the layout tiles the data buffer.
  for (size_t index = 1; index < file.tensors().size(); ++index) {
    const SafetensorsTensor& previous = file.tensors()[index - 1];
    EXPECT_EQ(previous.bytes.data() + previous.bytes.size(), file.tensors()[index].bytes.data());
  }
}

TEST(Safetensors, ReadsTheHuggingFaceReferenceFile) {
  const SafetensorsFile file = SafetensorsFile::open(distilbert_dir / "reference.safetensors");
  EXPECT_TRUE(file.metadata().empty());
  ASSERT_EQ(file.tensors().size(), 48u);
  // The reference writer puts the 8-byte dtypes first: the I64 inputs precede the F32 tensors.
  EXPECT_EQ(file.tensors()[0].name, "attention_mask");
  EXPECT_EQ(file.tensors()[1].name, "input_ids");
  EXPECT_EQ(file.tensors()[2].name, "labels");
  EXPECT_EQ(file.tensors()[3].name, "grad.classifier.bias");

  const SafetensorsTensor& input_ids = file.tensor("input_ids");
  EXPECT_EQ(input_ids.dtype, SafetensorsDtype::I64);
  EXPECT_THAT(input_ids.shape, ElementsAre(3, 16));
  EXPECT_EQ(input_ids.element_count(), 48u);
  const std::vector<int64_t> ids = values_of<int64_t>(input_ids);
  EXPECT_THAT(std::vector<int64_t>(ids.begin(), ids.begin() + 3), ElementsAre(560, 497, 516));
  EXPECT_THAT(values_of<int64_t>(file.tensor("labels")), ElementsAre(0, 1, 1));

  const SafetensorsTensor& loss = file.tensor("loss");
  EXPECT_EQ(loss.dtype, SafetensorsDtype::F32);
  EXPECT_THAT(loss.shape, ElementsAre(1));
  EXPECT_EQ(std::bit_cast<uint32_t>(model::to_floats(loss).at(0)), 0x3f2e45d4u);  // 0.68075299
  EXPECT_THAT(file.tensor("hidden_states.2").shape, ElementsAre(3, 16, 64));
}

TEST(Safetensors, LookupByNameAndMoveKeepTheBytesValid) {
  SafetensorsFile file = SafetensorsFile::open(distilbert_dir / "model.safetensors");
  EXPECT_EQ(file.find("no.such.tensor"), nullptr);
  ASSERT_NE(file.find("classifier.bias"), nullptr);
  const std::byte* bias_bytes = file.find("classifier.bias")->bytes.data();

  const SafetensorsFile moved = std::move(file);
  EXPECT_EQ(moved.tensor("classifier.bias").bytes.data(), bias_bytes);
  EXPECT_EQ(values_of<float>(moved.tensor("classifier.bias")), std::vector<float>(2, 0.0f));
  try {
    moved.tensor("classifier.wieght");
    FAIL() << "a missing tensor must throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_data);
    EXPECT_THAT(error.what(), HasSubstr("model.safetensors"));
    EXPECT_THAT(error.what(), HasSubstr("\"classifier.wieght\""));
  }
}

TEST(Safetensors, RewritingTheHuggingFaceFilesGivesTheSameBytes) {
  TempDir dir;
  for (const char* name : {"model.safetensors", "reference.safetensors"}) {
    const fs::path original = distilbert_dir / name;
    const SafetensorsFile file = SafetensorsFile::open(original);
    const fs::path copy = dir / name;
    write_safetensors(copy, file.tensors(), file.metadata());
    EXPECT_EQ(read_text(copy), read_text(original)) << name;
  }
}

TEST(Safetensors, WriteThenReadIsBitExact) {
  TempDir dir;
  const std::vector<float> f32 = {1.0f, -0.0f, std::numeric_limits<float>::denorm_min(),
                                  std::numeric_limits<float>::infinity(),
                                  std::bit_cast<float>(0x7fa00001u)};  // a NaN with a payload
  const std::vector<uint16_t> f16 = {0x3c00, 0x8000, 0x0001, 0x7c00, 0x7e01, 0xfbff};
  const std::vector<uint16_t> bf16 = {0x3f80, 0xc020, 0x0001, 0xff80, 0x7fc1, 0x1234};
  const std::vector<int64_t> i64 = {std::numeric_limits<int64_t>::min(), -1, 0, 1,
                                    std::numeric_limits<int64_t>::max(), 42};
  const std::vector<uint8_t> flags = {1, 0, 1};
  const std::vector<int64_t> seven = {7};
  const std::vector<SafetensorsTensor> tensors = {
      {"weights.f32", SafetensorsDtype::F32, {5}, bytes_of(f32)},
      {"weights.f16", SafetensorsDtype::F16, {2, 3}, bytes_of(f16)},
      {"weights.bf16", SafetensorsDtype::BF16, {3, 1, 2}, bytes_of(bf16)},
      {"ids", SafetensorsDtype::I64, {2, 3}, bytes_of(i64)},
      {"mask", SafetensorsDtype::BOOL, {3}, bytes_of(flags)},
      {"scalar", SafetensorsDtype::I64, {}, bytes_of(seven)},
      {"empty", SafetensorsDtype::F32, {0, 4}, {}},
  };
  const std::map<std::string, std::string> metadata = {{"format", "pt"}, {"step", "12"}};
  const fs::path path = dir / "round_trip.safetensors";
  write_safetensors(path, tensors, metadata);

  const SafetensorsFile file = SafetensorsFile::open(path);
  EXPECT_EQ(file.metadata(), metadata);
  ASSERT_EQ(file.tensors().size(), tensors.size());
  for (const SafetensorsTensor& written : tensors) {
    const SafetensorsTensor& read = file.tensor(written.name);
    EXPECT_EQ(read.dtype, written.dtype) << written.name;
    EXPECT_EQ(read.shape, written.shape) << written.name;
    EXPECT_EQ(string_of(read.bytes), string_of(written.bytes)) << written.name;
    // The widest dtypes come first, so each tensor starts aligned to its element size in the mapping.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(read.bytes.data()) % model::dtype_size(read.dtype), 0u)
        << written.name;
  }
  EXPECT_EQ(file.tensor("scalar").element_count(), 1u);
  EXPECT_EQ(file.tensor("empty").element_count(), 0u);
  EXPECT_EQ(file.tensors().front().name, "ids");  // I64 before F32 before BF16/F16 before BOOL
  EXPECT_EQ(file.tensors().back().name, "mask");
}

TEST(Safetensors, WrittenBytesMatchTheHandComputedLayout) {
  TempDir dir;
  const std::vector<float> pair = {1.0f, -2.0f};
  const std::vector<int64_t> seven = {7};
  // "a" sorts before "b" by name, but b's 8-byte dtype puts it first.
  const std::vector<SafetensorsTensor> tensors = {{"a", SafetensorsDtype::F32, {2}, bytes_of(pair)},
                                                  {"b", SafetensorsDtype::I64, {1}, bytes_of(seven)}};
  write_safetensors(dir / "small.safetensors", tensors);

  const std::string header = R"({"__metadata__":{"format":"pt"},)"
                             R"("b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},)"
                             R"("a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})";
  ASSERT_EQ(header.size(), 139u);  // 5 spaces pad it to 144, a multiple of 8
  const std::string expected = std::string("\x90\0\0\0\0\0\0\0", 8) + header + "     " +
                               std::string("\x07\0\0\0\0\0\0\0", 8) +     // 7 as little-endian I64
                               std::string("\0\0\x80\x3f\0\0\0\xc0", 8);  // 1.0f, -2.0f
  EXPECT_EQ(read_text(dir / "small.safetensors"), expected);
}

TEST(Safetensors, WriterMatchesTheReferenceImplementationsOwnTestVectors) {
  // The expected bytes of safetensors' tests test_serialization, test_serialization_forced_alignement and
  // test_empty (safetensors/src/tensor.rs), written out as text.
  TempDir dir;
  const std::vector<float> values = {0, 1, 2, 3, 4, 5};
  const std::string data(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float));
  const std::map<std::string, std::string> no_metadata;

  const SafetensorsTensor attn_0{"attn.0", SafetensorsDtype::F32, {1, 2, 3}, bytes_of(values)};
  write_safetensors(dir / "a.safetensors", std::span(&attn_0, 1), no_metadata);
  EXPECT_EQ(read_text(dir / "a.safetensors"),
            file_bytes(R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})", data));

  const SafetensorsTensor attn0{"attn0", SafetensorsDtype::F32, {1, 1, 2, 3}, bytes_of(values)};
  write_safetensors(dir / "b.safetensors", std::span(&attn0, 1), no_metadata);
  EXPECT_EQ(
      read_text(dir / "b.safetensors"),
      file_bytes(R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})" + std::string(7, ' '),
                 data));

  write_safetensors(dir / "empty.safetensors", {}, no_metadata);
  EXPECT_EQ(read_text(dir / "empty.safetensors"), file_bytes("{}      ", ""));
  write_safetensors(dir / "framework.safetensors", {}, {{"framework", "pt"}});
  EXPECT_EQ(read_text(dir / "framework.safetensors"),
            file_bytes(R"({"__metadata__":{"framework":"pt"}})" + std::string(5, ' '), ""));
  EXPECT_TRUE(SafetensorsFile::open(dir / "empty.safetensors").tensors().empty());
}

TEST(Safetensors, WriterRejectsInconsistentTensorsAndLeavesNoFile) {
  TempDir dir;
  const std::vector<float> three = {1, 2, 3};
  struct Case {
    std::vector<SafetensorsTensor> tensors;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{{"w", SafetensorsDtype::F32, {2, 2}, bytes_of(three)}},
       "tensor \"w\": shape [2, 2] of F32 needs 16 bytes, 12 were given"},
      {{{"w", SafetensorsDtype::F32, {-3}, bytes_of(three)}},
       "tensor \"w\": shape [-3] has a negative dimension"},
      {{{"w", SafetensorsDtype::F32, {3}, bytes_of(three)},
        {"w", SafetensorsDtype::I32, {3}, bytes_of(three)}},
       "tensor \"w\" is given twice"},
      {{{"__metadata__", SafetensorsDtype::F32, {3}, bytes_of(three)}}, "\"__metadata__\" is reserved"},
      {{{"bad\xff", SafetensorsDtype::F32, {3}, bytes_of(three)}}, "is not valid UTF-8"},
  };
  const fs::path path = dir / "out.safetensors";
  for (const Case& bad : cases) {
    try {
      write_safetensors(path, bad.tensors);
      ADD_FAILURE() << "no error for: " << bad.message;
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), ErrorCode::invalid_data) << bad.message;
      EXPECT_THAT(error.what(), HasSubstr(bad.message));
      EXPECT_THAT(error.what(), HasSubstr("out.safetensors"));
    }
  }
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(Safetensors, MissingFileIsNotFound) {
  TempDir dir;
  try {
    SafetensorsFile::open(dir / "absent.safetensors");
    FAIL() << "a missing file must throw";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::not_found);
    EXPECT_THAT(error.what(), HasSubstr("absent.safetensors"));
  }
}

struct MalformedCase {
  const char* label;
  std::string bytes;
  std::string message;  // a part of the error message, naming the tensor where there is one
};

std::string header_of(const std::string& entries) {
  return "{" + entries + "}";
}

const std::string eight_bytes(8, '\x01');

std::vector<MalformedCase> malformed_cases() {
  const std::string w = R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  return {
      {"empty file", "", "the file has 0 bytes, fewer than the 8-byte header size"},
      {"shorter than 8 bytes", std::string("\x05\0\0\0", 4), "the file has 4 bytes"},
      {"header size above the limit", file_bytes(100'000'001, "{}", ""),
       "the header size is 100000001 bytes, more than the 100000000 bytes"},
      {"header size near 2^64", file_bytes(std::numeric_limits<uint64_t>::max(), "{}", ""),
       "more than the 100000000 bytes"},
      {"header size past the file", file_bytes(64, "{}", ""),
       "the header size is 64 bytes but only 2 bytes follow"},
      {"header not JSON", file_bytes("{\"w\": [", ""), "the header is not valid JSON: parse error"},
      {"number beyond a double",
       file_bytes(R"({"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,8]}})", eight_bytes),
       "the header is not valid JSON: number overflow parsing '1e999'"},
      {"header not UTF-8", file_bytes("{\"w\xff\": 1}", ""), "the header is not valid JSON"},
      {"header padded with zeros", file_bytes(header_of(w) + std::string(3, '\0'), eight_bytes),
       "the header has a NUL byte at position 54"},
      {"header with a second object after a NUL",
       file_bytes(
           header_of(w) + std::string(1, '\0') + R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
           eight_bytes),
       "the header has a NUL byte at position 54"},
      {"header an array", file_bytes("[1, 2]", ""), "the header is a JSON array, expected an object"},
      {"entry not an object", file_bytes(R"({"w": 5})", ""),
       "tensor \"w\": the entry is a JSON number, expected an object"},
      {"dtype missing", file_bytes(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", eight_bytes),
       "tensor \"w\": \"dtype\" is missing"},
      {"shape missing", file_bytes(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", eight_bytes),
       "tensor \"w\": \"shape\" is missing"},
      {"offsets missing", file_bytes(R"({"w":{"dtype":"F32","shape":[2]}})", eight_bytes),
       "tensor \"w\": \"data_offsets\" is missing"},
      {"dtype not a string", file_bytes(R"({"w":{"dtype":4,"shape":[2],"data_offsets":[0,8]}})", eight_bytes),
       "tensor \"w\": \"dtype\" is a JSON number, expected a string"},
      {"unknown dtype", file_bytes(R"({"w":{"dtype":"U16","shape":[4],"data_offsets":[0,8]}})", eight_bytes),
       "tensor \"w\": dtype \"U16\" is not supported (supported: BOOL, U8, I8, I16, F16, BF16, I32, F32, "
       "F64, I64)"},
      {"shape not a list", file_bytes(R"({"w":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", eight_bytes),
       "tensor \"w\": \"shape\" is a JSON number, expected a list of sizes"},
      {"negative dimension",
       file_bytes(R"({"w":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight_bytes),
       "tensor \"w\": shape [-2] has the dimension -2, expected an integer >= 0"},
      {"fractional dimension",
       file_bytes(R"({"w":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", eight_bytes),
       "tensor \"w\": shape [2.5] has the dimension 2.5"},
      {"dimension beyond int64",
       file_bytes(R"({"w":{"dtype":"F32","shape":[9223372036854775808,0],"data_offsets":[0,0]}})", ""),
       "tensor \"w\": shape [9223372036854775808,0] has the dimension 9223372036854775808"},
      {"shape product overflows",
       file_bytes(R"({"w":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})",
                  eight_bytes),
       "tensor \"w\": shape [4294967296, 4294967296, 16] of F32 has more than 2^64 bytes"},
      {"offsets one number",
       file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8]}})", eight_bytes),
       "tensor \"w\": \"data_offsets\" is [8], expected two integers >= 0"},
      {"offsets three numbers",
       file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}})", eight_bytes),
       "tensor \"w\": \"data_offsets\" is [0,8,8]"},
      {"offsets negative",
       file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}})", eight_bytes),
       "tensor \"w\": \"data_offsets\" is [-8,0]"},
      {"offsets fractional",
       file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8.0]}})", eight_bytes),
       "tensor \"w\": \"data_offsets\" is [0,8.0]"},
      {"offsets an object",
       file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":{"0":8}}})", eight_bytes),
       "tensor \"w\": \"data_offsets\" is {\"0\":8}"},
      {"begin after end",
       file_bytes(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", eight_bytes),
       "tensor \"w\": data_offsets [8, 0] end before they begin"},
      {"end past the buffer",
       file_bytes(
           R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[18446744073709551608,18446744073709551615]}})",
           eight_bytes),
       "tensor \"w\": data_offsets [18446744073709551608, 18446744073709551615] run past the end of the "
       "data, "
       "which has 8 bytes"},
      {"truncated data", file_bytes(header_of(w), "\x01\x02\x03\x04"),
       "tensor \"w\": data_offsets [0, 8] run past the end of the data, which has 4 bytes"},
      {"wrong byte length",
       file_bytes(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight_bytes),
       "tensor \"w\": shape [3] of F32 needs 12 bytes, data_offsets [0, 8] hold 8"},
      {"overlap",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                  std::string(12, '\x01')),
       "tensor \"b\": data_offsets [4, 12] overlap those of tensor \"a\" [0, 8]"},
      {"empty tensor inside another",
       file_bytes(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                  R"("z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
                  eight_bytes),
       "tensor \"z\": data_offsets [4, 4] overlap those of tensor \"a\""},
      {"hole between tensors",
       file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                  R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
                  std::string(12, '\x01')),
       "tensor \"b\": data_offsets [8, 12] leave bytes [4, 8) before them to no tensor"},
      {"hole at the start",
       file_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", eight_bytes),
       "tensor \"a\": data_offsets [4, 8] leave bytes [0, 4) before them to no tensor"},
      {"bytes after the last tensor", file_bytes(header_of(w), eight_bytes + "xyz"),
       "3 bytes after the last tensor \"w\" (which ends at byte 8) belong to no tensor"},
      {"data without tensors", file_bytes(R"({"__metadata__":{"format":"pt"}})", "xyz"),
       "3 bytes of data follow a header that lists no tensor"},
      {"duplicate tensor", file_bytes(header_of(w + "," + w), eight_bytes),
       "tensor \"w\" appears twice in the header"},
      {"duplicate key in an entry",
       file_bytes(R"({"w":{"dtype":"F32","dtype":"I32","shape":[2],"data_offsets":[0,8]}})", eight_bytes),
       "tensor \"w\": key \"dtype\" appears twice"},
      {"duplicate metadata key",
       file_bytes(header_of(R"("__metadata__":{"a":"1","a":"2"},)" + w), eight_bytes),
       "\"__metadata__\": key \"a\" appears twice"},
      {"metadata not an object", file_bytes(header_of(R"("__metadata__":["pt"],)" + w), eight_bytes),
       "\"__metadata__\" is a JSON array, expected an object of strings"},
      {"metadata value not a string",
       file_bytes(header_of(R"("__metadata__":{"epoch":3},)" + w), eight_bytes),
       "\"__metadata__\" key \"epoch\" is a JSON number, expected a string"},
  };
}

TEST(Safetensors, MalformedFilesAreParseErrorsNamingTheFileAndTensor) {
  TempDir dir;
  for (const MalformedCase& bad : malformed_cases()) {
    const Error error = open_error(dir, bad.bytes);
    EXPECT_EQ(error.code(), ErrorCode::parse) << bad.label << ": " << error.what();
    EXPECT_EQ(error.where(), (dir / "bad.safetensors").string()) << bad.label;
    EXPECT_THAT(error.what(), HasSubstr(bad.message)) << bad.label;
    EXPECT_THAT(error.what(), HasSubstr("(fix: ")) << bad.label;
  }
}

TEST(Safetensors, TruncatingAValidFileAnywhereIsAParseError) {
  TempDir dir;
  const std::string original = read_text(distilbert_dir / "model.safetensors");
  for (size_t length : {size_t{0}, size_t{7}, size_t{8}, size_t{100}, size_t{4439}, size_t{4440},
                        size_t{4447}, original.size() - 1}) {
    const Error error = open_error(dir, original.substr(0, length));
    EXPECT_EQ(error.code(), ErrorCode::parse) << length << ": " << error.what();
  }
}

TEST(Safetensors, HeaderPaddingWithSpacesIsAccepted) {
  TempDir dir;
  const fs::path path = dir / "padded.safetensors";
  write_text(path,
             file_bytes(R"({"w":{"dtype":"I8","shape":[3],"data_offsets":[0,3]}})" + std::string(21, ' '),
                        "\x01\x02\xff"));
  const SafetensorsFile file = SafetensorsFile::open(path);
  ASSERT_EQ(file.tensors().size(), 1u);
  EXPECT_THAT(values_of<int8_t>(file.tensor("w")), ElementsAre(1, 2, -1));
}

TEST(Safetensors, HalfPrecisionConversionsAreExact) {
  EXPECT_EQ(model::f16_to_float(0x3c00), 1.0f);
  EXPECT_EQ(model::f16_to_float(0xc100), -2.5f);
  EXPECT_EQ(model::f16_to_float(0x7bff), 65504.0f);                               // largest finite half
  EXPECT_EQ(model::f16_to_float(0x0001), std::ldexp(1.0f, -24));                  // smallest subnormal
  EXPECT_EQ(model::f16_to_float(0x03ff), std::ldexp(1023.0f, -24));               // largest subnormal
  EXPECT_EQ(model::f16_to_float(0x0400), std::ldexp(1.0f, -14));                  // smallest normal
  EXPECT_EQ(model::f16_to_float(0x3555), 0x155 * std::ldexp(1.0f, -12) + 0.25f);  // 0.33325195
  EXPECT_EQ(std::bit_cast<uint32_t>(model::f16_to_float(0x8000)), 0x80000000u);   // -0 keeps its sign
  EXPECT_EQ(model::f16_to_float(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(model::f16_to_float(0xfc00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(model::f16_to_float(0x7e00)));
  EXPECT_EQ(std::bit_cast<uint32_t>(model::f16_to_float(0x7c01)),
            0x7f802000u);  // signalling NaN, payload kept
  EXPECT_EQ(std::bit_cast<uint32_t>(model::f16_to_float(0xfe00)), 0xffc00000u);

  EXPECT_EQ(model::bf16_to_float(0x3f80), 1.0f);
  EXPECT_EQ(model::bf16_to_float(0xc020), -2.5f);
  EXPECT_EQ(model::bf16_to_float(0x477f), 65280.0f);  // 65504 is not a bfloat16; 65280 is the one below
  EXPECT_EQ(model::bf16_to_float(0x0001), std::ldexp(1.0f, -133));             // smallest subnormal
  EXPECT_EQ(model::bf16_to_float(0x7f7f), std::bit_cast<float>(0x7f7f0000u));  // largest finite
  EXPECT_EQ(model::bf16_to_float(0x7f80), std::numeric_limits<float>::infinity());
  EXPECT_EQ(model::bf16_to_float(0xff80), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(model::bf16_to_float(0x7fc0)));
  EXPECT_EQ(std::bit_cast<uint32_t>(model::bf16_to_float(0xffc1)), 0xffc10000u);
}

#ifdef __FLT16_MANT_DIG__
// Every half against the compiler's _Float16. Hardware conversion quiets signalling NaNs, so NaNs are
// compared by class and sign only.
TEST(Safetensors, HalfConversionMatchesTheCompilersFloat16ForEveryBitPattern) {
  for (uint32_t bits = 0; bits <= 0xffff; ++bits) {
    const float expected = static_cast<float>(std::bit_cast<_Float16>(static_cast<uint16_t>(bits)));
    const float converted = model::f16_to_float(static_cast<uint16_t>(bits));
    if (std::isnan(expected)) {
      ASSERT_TRUE(std::isnan(converted)) << bits;
      ASSERT_EQ(std::signbit(converted), std::signbit(expected)) << bits;
    } else {
      ASSERT_EQ(std::bit_cast<uint32_t>(converted), std::bit_cast<uint32_t>(expected)) << bits;
    }
  }
}
#endif

TEST(Safetensors, ToFloatsConvertsHalfTensorsAndRejectsIntegers) {
  const std::vector<uint16_t> f16 = {0x3c00, 0xc100, 0x7bff};
  const std::vector<uint16_t> bf16 = {0x3f80, 0xc020, 0x477f};
  const std::vector<float> f32 = {0.5f, -8.0f};
  const std::vector<int64_t> i64 = {1, 2};
  EXPECT_THAT(model::to_floats({"h", SafetensorsDtype::F16, {3}, bytes_of(f16)}),
              ElementsAre(1.0f, -2.5f, 65504.0f));
  EXPECT_THAT(model::to_floats({"b", SafetensorsDtype::BF16, {3}, bytes_of(bf16)}),
              ElementsAre(1.0f, -2.5f, 65280.0f));
  EXPECT_THAT(model::to_floats({"f", SafetensorsDtype::F32, {2}, bytes_of(f32)}), ElementsAre(0.5f, -8.0f));
  EXPECT_TRUE(model::to_floats({"e", SafetensorsDtype::F16, {0}, {}}).empty());
  try {
    model::to_floats({"ids", SafetensorsDtype::I64, {2}, bytes_of(i64)});
    FAIL() << "I64 must not convert";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_data);
    EXPECT_THAT(error.what(), HasSubstr("tensor \"ids\" is I64"));
  }
  try {
    model::to_floats({"short", SafetensorsDtype::F16, {4}, bytes_of(f16)});
    FAIL() << "a tensor with too few bytes must not convert";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), ErrorCode::invalid_data);
    EXPECT_THAT(error.what(), HasSubstr("tensor \"short\": shape [4] of F16 needs 8 bytes, 6 were given"));
  }
}

TEST(Safetensors, DtypeNamesAndSizes) {
  EXPECT_EQ(model::to_string(SafetensorsDtype::BF16), "BF16");
  EXPECT_EQ(model::to_string(SafetensorsDtype::BOOL), "BOOL");
  EXPECT_EQ(model::dtype_size(SafetensorsDtype::F64), 8u);
  EXPECT_EQ(model::dtype_size(SafetensorsDtype::F16), 2u);
  EXPECT_EQ(model::dtype_size(SafetensorsDtype::U8), 1u);
  EXPECT_THROW((SafetensorsTensor{"w", SafetensorsDtype::F32, {-1, 2}, {}}.element_count()), Error);
}

}  // namespace
}  // namespace greentune::testing
