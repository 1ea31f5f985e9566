// Strict reading of Cairn's TOML files (recipes, hardening profiles, a host's update.toml): every
// key must be known, every value of the right type, and an error names the file, line and key —
// "did you mean" included — because a typo in a recipe must never silently change an image.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace cairn {

// Parses a TOML file; a syntax error names file:line:column.
Expected<toml::table> parse_toml_file(const std::filesystem::path& path);

// Reads the keys of one table, remembering which were consumed, so finish() can reject the rest.
class TableReader {
 public:
  TableReader(const toml::table& table, std::filesystem::path file, std::string table_name);

  Expected<std::optional<std::string>> optional_string(std::string_view key);
  Expected<std::string> string(std::string_view key);
  Expected<std::optional<std::int64_t>> optional_integer(std::string_view key);
  Expected<std::optional<bool>> optional_bool(std::string_view key);
  Expected<std::vector<std::string>> string_array(std::string_view key);  // absent: empty
  // A sub-table; absent → empty table. Wrong type is an error.
  Expected<const toml::table*> optional_table(std::string_view key);
  // An array of tables ([[key]]); absent → empty.
  Expected<std::vector<const toml::table*>> table_array(std::string_view key);

  // Fails on the first key that was never read, naming it and suggesting the closest known key.
  Status finish() const;

  // "<file>:<line>: " for the key (or the table when the key is absent).
  std::string where(std::string_view key) const;
  const std::filesystem::path& file() const { return file_; }
  std::string qualified(std::string_view key) const;

 private:
  const toml::node* lookup(std::string_view key);
  Expected<const toml::node*> typed(std::string_view key, toml::node_type type,
                                    std::string_view type_name);

  const toml::table& table_;
  std::filesystem::path file_;
  std::string table_name_;
  std::set<std::string, std::less<>> known_;
};

// Levenshtein distance, for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace cairn
