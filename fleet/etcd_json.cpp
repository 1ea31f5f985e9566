#include "fleet/etcd_json.hpp"

#include <charconv>
#include <limits>
#include <utility>

#include "common/base64.hpp"

namespace cairn::fleet {

using nlohmann::json;

std::string printable(std::string_view bytes, std::size_t limit) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (char c : bytes.substr(0, limit)) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out += c;
    } else {
      out += {'\\', 'x', kHex[byte >> 4], kHex[byte & 0xf]};
    }
  }
  if (bytes.size() > limit) out += "…";
  return out;
}

std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    auto last = static_cast<unsigned char>(end.back());
    if (last < 0xff) {
      end.back() = static_cast<char>(last + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');
}

namespace {

std::unexpected<Error> malformed(std::string why) {
  return fail(Errc::unavailable, std::move(why));
}

}  // namespace

// A 64-bit field: proto3 sends int64 as a JSON string; a number is accepted too. Absent: 0.
Expected<std::int64_t> int64_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return 0;
  if (it->is_number_integer()) {
    if (it->is_number_unsigned() &&
        it->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return malformed(std::string("'") + key + "' is out of the 64-bit range");
    }
    return it->get<std::int64_t>();
  }
  if (!it->is_string()) return malformed(std::string("'") + key + "' is not a 64-bit integer");
  const auto& text = it->get_ref<const std::string&>();
  std::int64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) {
    return malformed(std::string("'") + key + "' is not a 64-bit integer: \"" + printable(text) +
                     "\"");
  }
  return value;
}

// A bytes field, base64 on the wire. Absent: empty.
Expected<std::string> bytes_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return malformed(std::string("'") + key + "' is not a base64 string");
  auto bytes = base64_decode(it->get_ref<const std::string&>());
  if (!bytes) return malformed(std::string("'") + key + "': " + bytes.error().message());
  return std::move(*bytes);
}

Expected<bool> bool_field(const json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return false;
  if (!it->is_boolean()) return malformed(std::string("'") + key + "' is not true or false");
  return it->get<bool>();
}

namespace {

Expected<EtcdKeyValue> parse_key_value(const json& kv) {
  if (!kv.is_object()) return malformed("a key-value is not a JSON object");
  EtcdKeyValue out;
  out.key = CAIRN_TRY(bytes_field(kv, "key"));
  out.value = CAIRN_TRY(bytes_field(kv, "value"));
  out.create_revision = CAIRN_TRY(int64_field(kv, "create_revision"));
  out.mod_revision = CAIRN_TRY(int64_field(kv, "mod_revision"));
  out.version = CAIRN_TRY(int64_field(kv, "version"));
  out.lease = CAIRN_TRY(int64_field(kv, "lease"));
  return out;
}

}  // namespace

Expected<std::vector<EtcdKeyValue>> parse_range(const json& answer) {
  std::vector<EtcdKeyValue> out;
  auto it = answer.find("kvs");
  if (it == answer.end() || it->is_null()) return out;
  if (!it->is_array()) return malformed("'kvs' is not an array");
  for (const auto& kv : *it) out.push_back(CAIRN_TRY(parse_key_value(kv)));
  return out;
}

std::optional<EtcdFailure> reported_failure(const json& answer) {
  if (!answer.is_object()) return std::nullopt;
  auto error = answer.find("error");
  if (error == answer.end()) return std::nullopt;
  const json& details = error->is_object() ? *error : answer;
  EtcdFailure failure;
  auto message = details.find("message");
  if (message != details.end() && message->is_string()) {
    failure.message = message->get<std::string>();
  } else if (error->is_string()) {
    failure.message = error->get<std::string>();
  }
  if (failure.message.empty()) failure.message = "(no message)";
  auto code = details.find(error->is_object() ? "grpc_code" : "code");
  if (code != details.end() && code->is_number_integer()) {
    failure.grpc_code = code->get<std::int64_t>();
  }
  return failure;
}

Errc errc_of(std::int64_t grpc_code) {
  switch (grpc_code) {
    case 3:   // InvalidArgument
    case 9:   // FailedPrecondition
    case 11:  // OutOfRange
      return Errc::invalid_input;
    case 5:  // NotFound
      return Errc::not_found;
    case 7:   // PermissionDenied
    case 16:  // Unauthenticated
      return Errc::permission;
    default:
      return Errc::unavailable;
  }
}

Status check_key_segment(std::string_view what, std::string_view text) {
  if (text.empty()) return fail(Errc::invalid_input, std::string(what) + " is empty");
  for (char c : text) {
    if (c == '/' || static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return fail(Errc::invalid_input, std::string(what) + " '" + std::string(text) +
                                           "' cannot name an etcd key: it holds '/' or a control "
                                           "character");
    }
  }
  return {};
}

}  // namespace cairn::fleet
