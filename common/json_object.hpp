// Strict reading of one JSON object of a signed document (a bundle manifest, a channel index):
// every key must be read, types are checked, and a key nobody read is an error — a field a
// newer writer added must not be silently ignored by an older reader that trusts the signature.
// Errors are Errc::invalid_input and name the field: "<where>.<key>: <why>".
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "common/error.hpp"

namespace cairn {

class JsonObjectReader {
 public:
  // `object` must outlive the reader; `where` names it in errors ("manifest.payloads[2]").
  JsonObjectReader(const nlohmann::json& object, std::string where)
      : object_(object), where_(std::move(where)) {}

  // Errc::invalid_input "<where>: must be an object" unless `value` is one.
  static Status require_object(const nlohmann::json& value, const std::string& where);

  Expected<std::string> string(const std::string& key);
  Expected<std::uint64_t> unsigned_number(const std::string& key);
  // Any JSON number (integer or not).
  Expected<double> number(const std::string& key);
  Expected<const nlohmann::json*> array(const std::string& key);
  Expected<const nlohmann::json*> object(const std::string& key);

  // After every key was read: an unread key is an error.
  Status finish() const;
  std::unexpected<Error> invalid(const std::string& key, const std::string& why) const;
  // "<where>.<key>": the name of a nested value, for its own reader.
  std::string where(const std::string& key) const { return where_ + "." + key; }

 private:
  Expected<const nlohmann::json*> get(const std::string& key);
  std::unexpected<Error> wrong_type(const std::string& key, const char* expected) const;

  const nlohmann::json& object_;
  std::string where_;
  std::set<std::string> seen_;
};

}  // namespace cairn
