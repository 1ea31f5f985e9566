#include "common/json_object.hpp"

namespace cairn {

using nlohmann::json;

Status JsonObjectReader::require_object(const json& value, const std::string& where) {
  if (!value.is_object()) return fail(Errc::invalid_input, where + ": must be an object");
  return {};
}

Expected<std::string> JsonObjectReader::string(const std::string& key) {
  const json* value = CAIRN_TRY(get(key));
  if (!value->is_string()) return wrong_type(key, "a string");
  return value->get<std::string>();
}

Expected<std::uint64_t> JsonObjectReader::unsigned_number(const std::string& key) {
  const json* value = CAIRN_TRY(get(key));
  if (!value->is_number_unsigned()) return wrong_type(key, "a non-negative integer");
  return value->get<std::uint64_t>();
}

Expected<double> JsonObjectReader::number(const std::string& key) {
  const json* value = CAIRN_TRY(get(key));
  if (!value->is_number()) return wrong_type(key, "a number");
  return value->get<double>();
}

Expected<const json*> JsonObjectReader::array(const std::string& key) {
  const json* value = CAIRN_TRY(get(key));
  if (!value->is_array()) return wrong_type(key, "an array");
  return value;
}

Expected<const json*> JsonObjectReader::object(const std::string& key) {
  const json* value = CAIRN_TRY(get(key));
  if (!value->is_object()) return wrong_type(key, "an object");
  return value;
}

Status JsonObjectReader::finish() const {
  for (const auto& [key, value] : object_.items()) {
    if (!seen_.contains(key)) {
      return fail(Errc::invalid_input, where_ + ": unknown key '" + key + "'");
    }
  }
  return {};
}

std::unexpected<Error> JsonObjectReader::invalid(const std::string& key,
                                                 const std::string& why) const {
  return fail(Errc::invalid_input, where(key) + ": " + why);
}

Expected<const json*> JsonObjectReader::get(const std::string& key) {
  seen_.insert(key);
  auto it = object_.find(key);
  if (it == object_.end()) return fail(Errc::invalid_input, where_ + ": missing '" + key + "'");
  return &*it;
}

std::unexpected<Error> JsonObjectReader::wrong_type(const std::string& key,
                                                    const char* expected) const {
  return invalid(key, std::string("must be ") + expected);
}

}  // namespace cairn
