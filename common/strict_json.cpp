#include "common/strict_json.hpp"

#include <optional>
#include <set>
#include <string>
#include <vector>

namespace cairn {

namespace {

using nlohmann::json;

// Follows the parser's events: the keys seen in each open object, and the path to it, so that a
// second occurrence of a key is reported where it is.
class DuplicateKeyFinder {
 public:
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    if (!problem_.empty()) return false;
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth) {
          problem_ = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
          return false;
        }
        // Inside an array an object has no key of its own: the path says "[]".
        frames_.push_back({event == json::parse_event_t::object_start,
                           {},
                           frames_.empty() || frames_.back().is_object ? pending_key_ : "[]"});
        pending_key_.clear();
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames_.empty()) frames_.pop_back();
        break;
      case json::parse_event_t::key: {
        auto key = parsed.get<std::string>();
        if (!frames_.empty() && frames_.back().is_object &&
            !frames_.back().keys.insert(key).second) {
          problem_ = "key '" + key + "' appears twice in " + path();
          return false;
        }
        pending_key_ = key;
        break;
      }
      case json::parse_event_t::value:
        pending_key_.clear();
        break;
    }
    return true;
  }

  const std::string& problem() const { return problem_; }

 private:
  struct Frame {
    bool is_object;
    std::set<std::string> keys;
    std::string name;  // the key this object or array is the value of
  };

  std::string path() const {
    std::string out;
    for (const auto& frame : frames_) {
      if (frame.name == "[]") {
        out += frame.name;
      } else if (!frame.name.empty()) {
        out += "." + frame.name;
      }
    }
    return out.empty() ? "the top-level object" : "'" + out.substr(1) + "'";
  }

  std::vector<Frame> frames_;
  std::string pending_key_;
  std::string problem_;
};

// True when brackets outside strings nest deeper than `limit`: one pass, no allocation. The
// parser's callback refuses such a document too, but only after nlohmann has built (and thrown
// away) a value per level: a 4 MB body of '[' cost 300 MB that way.
bool nests_deeper_than(std::string_view text, int limit) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

Expected<json> parse_strict_json(std::string_view text, std::string_view what) {
  if (nests_deeper_than(text, kMaxJsonDepth)) {
    return fail(Errc::invalid_input, std::string(what) + ": nested deeper than " +
                                         std::to_string(kMaxJsonDepth) + " levels");
  }
  DuplicateKeyFinder finder;
  json root;
  std::optional<std::size_t> syntax_error_at;
  std::string number_error;
  try {
    root = json::parse(text, std::ref(finder), true);
  } catch (const json::parse_error& error) {
    syntax_error_at = error.byte;
  } catch (const json::out_of_range& error) {
    // A number no double holds ("1e400") is out_of_range, not a parse_error: uncaught, it ended
    // the process (found by tests/fuzz).
    number_error = error.what();
  }
  // The finder's reason first: refusing a key or a depth is what ends such a parse early.
  if (!finder.problem().empty()) {
    return fail(Errc::invalid_input, std::string(what) + ": " + finder.problem());
  }
  if (!number_error.empty()) {
    return fail(Errc::invalid_input, std::string(what) + ": not JSON (" + number_error + ")");
  }
  if (syntax_error_at) {
    return fail(Errc::invalid_input, std::string(what) + ": not JSON (syntax error at byte " +
                                         std::to_string(*syntax_error_at) + ")");
  }
  return root;
}

Expected<StrictJsonObject> StrictJsonObject::of(const json& value, std::string where) {
  if (!value.is_object()) return fail(Errc::invalid_input, where + ": not a JSON object");
  return StrictJsonObject(value, std::move(where));
}

Expected<const json*> StrictJsonObject::member(std::string_view key) {
  seen_.emplace(key);
  auto it = object_->find(key);
  if (it == object_->end()) return invalid(key, "is missing");
  return &*it;
}

Expected<std::string> StrictJsonObject::string(std::string_view key) {
  const json* value = CAIRN_TRY(member(key));
  if (!value->is_string()) return invalid(key, "must be a string");
  return value->get<std::string>();
}

Expected<std::optional<std::string>> StrictJsonObject::optional_string(std::string_view key) {
  if (!object_->contains(key)) {
    seen_.emplace(key);
    return std::nullopt;
  }
  return string(key);
}

Expected<bool> StrictJsonObject::boolean(std::string_view key) {
  const json* value = CAIRN_TRY(member(key));
  if (!value->is_boolean()) return invalid(key, "must be true or false");
  return value->get<bool>();
}

Expected<double> StrictJsonObject::number(std::string_view key) {
  const json* value = CAIRN_TRY(member(key));
  if (!value->is_number()) return invalid(key, "must be a number");
  return value->get<double>();
}

Expected<const json*> StrictJsonObject::array(std::string_view key) {
  const json* value = CAIRN_TRY(member(key));
  if (!value->is_array()) return invalid(key, "must be an array");
  return value;
}

Status StrictJsonObject::finish() const {
  for (const auto& [key, value] : object_->items()) {
    if (!seen_.contains(key)) {
      return fail(Errc::invalid_input, where_ + ": unknown field '" + key + "'");
    }
  }
  return {};
}

std::unexpected<Error> StrictJsonObject::invalid(std::string_view key, std::string_view why) const {
  return fail(Errc::invalid_input, where_ + ": '" + std::string(key) + "' " + std::string(why));
}

}  // namespace cairn
