// JSON that Cairn trusts after a signature check (bundle manifests, measurements.json, verifier
// protocol messages, admission tokens) is parsed strictly: a key written twice in one object is
// refused, never resolved "last value wins", since a signer and a reader that disagree on which
// value counts is how a signed document is made to say two things.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "common/error.hpp"

namespace cairn {

// Objects nested deeper than this are refused (no Cairn document needs more than a few levels).
inline constexpr int kMaxJsonDepth = 32;

// Parses `text` as one JSON value. Errors name `what`, and for a duplicate key the key and the
// path of the object holding it; syntax errors give the byte offset. Errc::invalid_input.
Expected<nlohmann::json> parse_strict_json(std::string_view text, std::string_view what);

}  // namespace cairn
