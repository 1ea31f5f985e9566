#include "common/toml_reader.hpp"

#include <algorithm>
#include <numeric>

namespace cairn {

namespace fs = std::filesystem;

namespace {
std::string_view describe_type(toml::node_type type) {
  switch (type) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    default:
      return "a date/time";
  }
}
}  // namespace

Expected<toml::table> parse_toml_file(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return fail(Errc::not_found, path.string() + ": no such file");
  }
  try {
    return toml::parse_file(path.string());
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    return fail(Errc::invalid_input, path.string() + ":" + std::to_string(begin.line) + ":" +
                                         std::to_string(begin.column) + ": " +
                                         std::string(error.description()));
  }
}

TableReader::TableReader(const toml::table& table, fs::path file, std::string table_name)
    : table_(table), file_(std::move(file)), table_name_(std::move(table_name)) {}

std::string TableReader::qualified(std::string_view key) const {
  return table_name_.empty() ? std::string(key) : table_name_ + "." + std::string(key);
}

std::string TableReader::where(std::string_view key) const {
  const toml::node* node = table_.get(key);
  auto line = node ? node->source().begin.line : table_.source().begin.line;
  return file_.string() + ":" + std::to_string(line) + ": ";
}

const toml::node* TableReader::lookup(std::string_view key) {
  known_.emplace(key);
  return table_.get(key);
}

Expected<const toml::node*> TableReader::typed(std::string_view key, toml::node_type type,
                                               std::string_view type_name) {
  const toml::node* node = lookup(key);
  if (node == nullptr) return nullptr;
  if (node->type() != type) {
    return fail(Errc::invalid_input, where(key) + "'" + qualified(key) + "' must be " +
                                         std::string(type_name) + ", not " +
                                         std::string(describe_type(node->type())));
  }
  return node;
}

Expected<std::optional<std::string>> TableReader::optional_string(std::string_view key) {
  const toml::node* node = CAIRN_TRY(typed(key, toml::node_type::string, "a string"));
  if (node == nullptr) return std::nullopt;
  return std::optional<std::string>(node->as_string()->get());
}

Expected<std::string> TableReader::string(std::string_view key) {
  auto value = CAIRN_TRY(optional_string(key));
  if (!value) {
    return fail(Errc::invalid_input, where(key) + "missing required key '" + qualified(key) + "'");
  }
  if (value->empty()) {
    return fail(Errc::invalid_input, where(key) + "'" + qualified(key) + "' must not be empty");
  }
  return *value;
}

Expected<std::optional<std::int64_t>> TableReader::optional_integer(std::string_view key) {
  const toml::node* node = CAIRN_TRY(typed(key, toml::node_type::integer, "an integer"));
  if (node == nullptr) return std::nullopt;
  return std::optional<std::int64_t>(node->as_integer()->get());
}

Expected<std::optional<bool>> TableReader::optional_bool(std::string_view key) {
  const toml::node* node = CAIRN_TRY(typed(key, toml::node_type::boolean, "true or false"));
  if (node == nullptr) return std::nullopt;
  return std::optional<bool>(node->as_boolean()->get());
}

Expected<std::vector<std::string>> TableReader::string_array(std::string_view key) {
  const toml::node* node = CAIRN_TRY(typed(key, toml::node_type::array, "an array of strings"));
  std::vector<std::string> values;
  if (node == nullptr) return values;
  std::size_t index = 0;
  for (const auto& element : *node->as_array()) {
    if (!element.is_string()) {
      return fail(Errc::invalid_input,
                  file_.string() + ":" + std::to_string(element.source().begin.line) + ": '" +
                      qualified(key) + "[" + std::to_string(index) + "]' must be a string");
    }
    values.push_back(element.as_string()->get());
    ++index;
  }
  return values;
}

Expected<const toml::table*> TableReader::optional_table(std::string_view key) {
  static const toml::table kEmpty;
  const toml::node* node = CAIRN_TRY(typed(key, toml::node_type::table, "a table"));
  return node ? node->as_table() : &kEmpty;
}

Expected<std::vector<const toml::table*>> TableReader::table_array(std::string_view key) {
  const toml::node* node = CAIRN_TRY(
      typed(key, toml::node_type::array, "an array of tables ([[" + std::string(key) + "]])"));
  std::vector<const toml::table*> tables;
  if (node == nullptr) return tables;
  for (const auto& element : *node->as_array()) {
    if (!element.is_table()) {
      return fail(Errc::invalid_input, where(key) + "'" + qualified(key) +
                                           "' must be an array of tables ([[" + std::string(key) +
                                           "]])");
    }
    tables.push_back(element.as_table());
  }
  return tables;
}

Status TableReader::finish() const {
  for (const auto& [key, node] : table_) {
    if (known_.contains(key.str())) continue;
    std::string message = file_.string() + ":" + std::to_string(key.source().begin.line) +
                          ": unknown key '" + qualified(key.str()) + "'";
    auto best = std::min_element(known_.begin(), known_.end(), [&](const auto& a, const auto& b) {
      return edit_distance(a, key.str()) < edit_distance(b, key.str());
    });
    if (best != known_.end() && edit_distance(*best, key.str()) <= 2) {
      message += " (did you mean '" + qualified(*best) + "'?)";
    }
    return fail(Errc::invalid_input, std::move(message));
  }
  return {};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), std::size_t{0});
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace cairn
