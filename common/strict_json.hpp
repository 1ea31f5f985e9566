// JSON that Cairn trusts after a signature check (bundle manifests, measurements.json, verifier
// protocol messages, admission tokens) is parsed strictly: a key written twice in one object is
// refused, never resolved "last value wins", since a signer and a reader that disagree on which
// value counts is how a signed document is made to say two things.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace cairn {

// Objects nested deeper than this are refused (no Cairn document needs more than a few levels).
inline constexpr int kMaxJsonDepth = 32;

// Parses `text` as one JSON value. Errors name `what`, and for a duplicate key the key and the
// path of the object holding it; syntax errors give the byte offset. Errc::invalid_input.
Expected<nlohmann::json> parse_strict_json(std::string_view text, std::string_view what);

// One JSON object read field by field, strictly: a field asked for must be there with the type
// asked for, and finish() refuses any field nobody asked for. A reader that skips unknown fields
// would let a writer think it said something the reader never heard. Errors are
// Errc::invalid_input and name `where` and the field: "host record: 'phase' must be a string".
class StrictJsonObject {
 public:
  // Errc::invalid_input naming `where` unless `value` is an object. `value` must outlive the
  // reader.
  static Expected<StrictJsonObject> of(const nlohmann::json& value, std::string where);

  Expected<const nlohmann::json*> member(std::string_view key);
  Expected<std::string> string(std::string_view key);
  // A string field writers of an older format leave out: std::nullopt when absent.
  Expected<std::optional<std::string>> optional_string(std::string_view key);
  Expected<bool> boolean(std::string_view key);
  Expected<double> number(std::string_view key);  // an integer or a floating-point number
  Expected<const nlohmann::json*> array(std::string_view key);
  // Refuses the first field no accessor above asked for.
  Status finish() const;

  // The error for a field whose value is wrong: "<where>: '<key>' <why>".
  std::unexpected<Error> invalid(std::string_view key, std::string_view why) const;

 private:
  StrictJsonObject(const nlohmann::json& object, std::string where)
      : object_(&object), where_(std::move(where)) {}

  const nlohmann::json* object_;
  std::string where_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace cairn
