#pragma once
// Helpers shared by the dataset, split, cache and stats tests: writing small aclImdb trees and .tar.gz
// archives (with libarchive) into a TempDir.

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"

namespace greentune::testing {

// (path inside the tree, contents)
using Members = std::vector<std::pair<std::string, std::string>>;

inline void write_tree(const std::filesystem::path& root, const Members& members) {
  for (const auto& [relative, contents] : members) {
    std::filesystem::create_directories((root / relative).parent_path());
    write_text(root / relative, contents);
  }
}

// A gzip-compressed tar (pax) archive holding members in the order given, with their folders.
inline void write_tar_gz(const std::filesystem::path& path, const Members& members) {
  archive* writer = archive_write_new();
  archive_write_add_filter_gzip(writer);
  archive_write_set_format_pax_restricted(writer);
  if (archive_write_open_filename(writer, path.c_str()) != ARCHIVE_OK) {
    archive_write_free(writer);
    throw std::runtime_error("cannot create " + path.string());
  }
  for (const auto& [name, contents] : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_size(entry, static_cast<la_int64_t>(contents.size()));
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_write_header(writer, entry);
    archive_write_data(writer, contents.data(), contents.size());
    archive_entry_free(entry);
  }
  archive_write_close(writer);
  archive_write_free(writer);
}

// A small aclImdb: reviews named <id>_<rating>.txt, listed out of id order, plus the files the real
// download has that are not labelled reviews (train/unsup, README, imdb.vocab, urls_*.txt).
inline Members small_imdb(const std::string& top) {
  return {
      {top + "README", "Large Movie Review Dataset v1.0"},
      {top + "imdb.vocab", "the\nand\n"},
      {top + "train/urls_pos.txt", "http://www.imdb.com/title/tt0453418/usercomments\n"},
      {top + "train/pos/10_9.txt", "train pos ten"},
      {top + "train/neg/2_1.txt", "train neg two"},
      {top + "train/pos/9_8.txt", "train pos nine"},
      {top + "train/neg/11_3.txt", "train neg eleven"},
      {top + "train/neg/1_4.txt", "train neg one"},
      {top + "train/unsup/0_0.txt", "unlabelled, ignored"},
      {top + "test/neg/0_2.txt", "test neg zero"},
      {top + "test/pos/3_10.txt", "test pos three"},
      {top + "test/pos/notes.txt", "test pos without an id"},
      {top + "test/pos/100_7.txt", "test pos hundred"},
  };
}

}  // namespace greentune::testing
