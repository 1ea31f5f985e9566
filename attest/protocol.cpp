#include "attest/protocol.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>

#include "common/strict_json.hpp"

namespace cairn::attest {

namespace {

using nlohmann::json;

constexpr std::uint32_t kMaxPcr = 23;  // PC Client TPMs have 24 PCRs

bool is_host_name(std::string_view name) {
  return !name.empty() && name.size() <= 253 && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

bool is_lower_hex(std::string_view text, std::size_t length) {
  return text.size() == length && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// Strict reading of one message object: every key is expected exactly once (finish() refuses the
// rest), types are checked, and every error names "<Message>.<key>".
class Fields {
 public:
  Fields(const json& object, std::string where) : object_(object), where_(std::move(where)) {}

  Expected<std::string> string(const char* key) {
    const json* value = CAIRN_TRY(get(key));
    if (!value->is_string()) return invalid(key, "must be a string");
    return value->get<std::string>();
  }
  // Absent and null both mean "not given".
  Expected<std::optional<std::string>> optional_string(const char* key) {
    seen_.insert(key);
    auto it = object_.find(key);
    if (it == object_.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) return invalid(key, "must be a string or null");
    return it->get<std::string>();
  }
  Expected<std::string> host(const char* key) {
    std::string value = CAIRN_TRY(string(key));
    if (!is_host_name(value)) {
      return invalid(key, "'" + value + "' is not a host name ([A-Za-z0-9._-], 1-253 chars)");
    }
    return value;
  }
  // A string that must be padded standard base64; kept encoded, as the structs carry it.
  Expected<std::string> base64(const char* key) {
    std::string value = CAIRN_TRY(string(key));
    if (!base64_decode(value)) return invalid(key, "not padded standard base64");
    return value;
  }
  Expected<std::optional<std::string>> optional_base64(const char* key) {
    auto value = CAIRN_TRY(optional_string(key));
    if (value && !base64_decode(*value)) return invalid(key, "not padded standard base64");
    return value;
  }
  Expected<std::int64_t> integer(const char* key) {
    const json* value = CAIRN_TRY(get(key));
    if (!value->is_number_integer()) return invalid(key, "must be an integer");
    if (value->is_number_unsigned() &&
        value->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return invalid(key, "out of range");
    }
    return value->get<std::int64_t>();
  }
  Expected<bool> boolean(const char* key) {
    const json* value = CAIRN_TRY(get(key));
    if (!value->is_boolean()) return invalid(key, "must be true or false");
    return value->get<bool>();
  }
  Expected<const json*> array(const char* key) {
    const json* value = CAIRN_TRY(get(key));
    if (!value->is_array()) return invalid(key, "must be an array");
    return value;
  }
  Expected<const json*> object(const char* key) {
    const json* value = CAIRN_TRY(get(key));
    if (!value->is_object()) return invalid(key, "must be an object");
    return value;
  }
  Status finish() const {
    for (const auto& [key, value] : object_.items()) {
      if (!seen_.contains(key)) {
        return fail(Errc::invalid_input, where_ + ": unknown key '" + key + "'");
      }
    }
    return {};
  }
  std::unexpected<Error> invalid(std::string_view key, const std::string& why) const {
    return fail(Errc::invalid_input, where_ + "." + std::string(key) + ": " + why);
  }

 private:
  Expected<const json*> get(const char* key) {
    seen_.insert(key);
    auto it = object_.find(key);
    if (it == object_.end()) return fail(Errc::invalid_input, where_ + ": missing '" + key + "'");
    return &*it;
  }

  const json& object_;
  std::string where_;
  std::set<std::string, std::less<>> seen_;
};

Expected<json> parse_object(std::string_view text, const char* what) {
  json root = CAIRN_TRY(parse_strict_json(text, what));
  if (!root.is_object()) return fail(Errc::invalid_input, std::string(what) + ": not an object");
  return root;
}

Expected<std::uint32_t> pcr_index(std::string_view text) {
  std::uint32_t index = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), index);
  if (error != std::errc{} || end != text.data() + text.size() || text.empty() ||
      (text.size() > 1 && text[0] == '0') || index > kMaxPcr) {
    return fail(Errc::invalid_input, "'" + std::string(text) + "' is not a PCR index (0-23)");
  }
  return index;
}

void put_optional(json& object, const char* key, const std::optional<std::string>& value) {
  if (value) object[key] = *value;
}

Expected<CheckResult> parse_check(const json& value, const std::string& where) {
  if (!value.is_object()) return fail(Errc::invalid_input, where + ": must be an object");
  Fields fields(value, where);
  CheckResult check;
  check.name = CAIRN_TRY(fields.string("name"));
  if (check.name.empty()) return fields.invalid("name", "must not be empty");
  check.passed = CAIRN_TRY(fields.boolean("passed"));
  check.detail = CAIRN_TRY(fields.string("detail"));
  CAIRN_CHECK(fields.finish());
  return check;
}

}  // namespace

std::string to_json(const EnrollRequest& message) {
  json root{
      {"host", message.host}, {"ek_public", message.ek_public}, {"ak_public", message.ak_public}};
  put_optional(root, "ek_certificate", message.ek_certificate);
  return root.dump();
}

Expected<EnrollRequest> parse_EnrollRequest(std::string_view text) {
  json root = CAIRN_TRY(parse_object(text, "EnrollRequest"));
  Fields fields(root, "EnrollRequest");
  EnrollRequest message;
  message.host = CAIRN_TRY(fields.host("host"));
  message.ek_public = CAIRN_TRY(fields.base64("ek_public"));
  message.ek_certificate = CAIRN_TRY(fields.optional_base64("ek_certificate"));
  message.ak_public = CAIRN_TRY(fields.base64("ak_public"));
  CAIRN_CHECK(fields.finish());
  return message;
}

std::string to_json(const EnrollChallenge& message) {
  return json{{"enrollment", message.enrollment},
              {"credential_blob", message.credential_blob},
              {"encrypted_secret", message.encrypted_secret},
              {"expires_at", message.expires_at}}
      .dump();
}

Expected<EnrollChallenge> parse_EnrollChallenge(std::string_view text) {
  json root = CAIRN_TRY(parse_object(text, "EnrollChallenge"));
  Fields fields(root, "EnrollChallenge");
  EnrollChallenge message;
  message.enrollment = CAIRN_TRY(fields.string("enrollment"));
  if (message.enrollment.empty()) return fields.invalid("enrollment", "must not be empty");
  message.credential_blob = CAIRN_TRY(fields.base64("credential_blob"));
  message.encrypted_secret = CAIRN_TRY(fields.base64("encrypted_secret"));
  message.expires_at = CAIRN_TRY(fields.integer("expires_at"));
  CAIRN_CHECK(fields.finish());
  return message;
}

std::string to_json(const EnrollActivation& message) {
  return json{{"enrollment", message.enrollment}, {"secret", message.secret}}.dump();
}

Expected<EnrollActivation> parse_EnrollActivation(std::string_view text) {
  json root = CAIRN_TRY(parse_object(text, "EnrollActivation"));
  Fields fields(root, "EnrollActivation");
  EnrollActivation message;
  message.enrollment = CAIRN_TRY(fields.string("enrollment"));
  if (message.enrollment.empty()) return fields.invalid("enrollment", "must not be empty");
  message.secret = CAIRN_TRY(fields.base64("secret"));
  CAIRN_CHECK(fields.finish());
  return message;
}

std::string to_json(const EnrollResult& message) {
  return json{{"host", message.host}, {"ak_name", message.ak_name}}.dump();
}

Expected<EnrollResult> parse_EnrollResult(std::string_view text) {
  json root = CAIRN_TRY(parse_object(text, "EnrollResult"));
  Fields fields(root, "EnrollResult");
  EnrollResult message;
  message.host = CAIRN_TRY(fields.host("host"));
  message.ak_name = CAIRN_TRY(fields.string("ak_name"));
  if (message.ak_name.empty() || !is_lower_hex(message.ak_name, message.ak_name.size()) ||
      message.ak_name.size() % 2 != 0) {
    return fields.invalid("ak_name", "must be lowercase hex");
  }
  CAIRN_CHECK(fields.finish());
  return message;
}

std::string to_json(const NonceRequest& message) { return json{{"host", message.host}}.dump(); }

Expected<NonceRequest> parse_NonceRequest(std::string_view text) {
  json root = CAIRN_TRY(parse_object(text, "NonceRequest"));
  Fields fields(root, "NonceRequest");
  NonceRequest message;
  message.host = CAIRN_TRY(fields.host("host"));
  CAIRN_CHECK(fields.finish());
  return message;
}

std::string to_json(const NonceGrant& message) {
  return json{{"nonce", message.nonce}, {"expires_at", message.expires_at}, {"pcrs", message.pcrs}}
      .dump();
}

Expected<NonceGrant> parse_NonceGrant(std::string_view text) {
  json root = CAIRN_TRY(parse_object(text, "NonceGrant"));
  Fields fields(root, "NonceGrant");
  NonceGrant message;
  message.nonce = CAIRN_TRY(fields.base64("nonce"));
  message.expires_at = CAIRN_TRY(fields.integer("expires_at"));
  const json* pcrs = CAIRN_TRY(fields.array("pcrs"));
  for (const json& pcr : *pcrs) {
    if (!pcr.is_number_unsigned() || pcr.get<std::uint64_t>() > kMaxPcr) {
      return fields.invalid("pcrs", "must hold PCR indexes 0-23");
    }
    auto index = pcr.get<std::uint32_t>();
    if (!message.pcrs.empty() && index <= message.pcrs.back()) {
      return fields.invalid("pcrs", "must be ascending without repeats");
    }
    message.pcrs.push_back(index);
  }
  CAIRN_CHECK(fields.finish());
  return message;
}

std::string to_json(const QuoteSubmission& message) {
  json pcrs = json::object();
  for (const auto& [index, value] : message.pcrs) pcrs[std::to_string(index)] = value;
  json root{
      {"host", message.host},           {"nonce", message.nonce}, {"quoted", message.quoted},
      {"signature", message.signature}, {"pcrs", pcrs},           {"event_log", message.event_log},
      {"boot_id", message.boot_id}};
  put_optional(root, "systemd_log", message.systemd_log);
  return root.dump();
}

Expected<QuoteSubmission> parse_QuoteSubmission(std::string_view text) {
  json root = CAIRN_TRY(parse_object(text, "QuoteSubmission"));
  Fields fields(root, "QuoteSubmission");
  QuoteSubmission message;
  message.host = CAIRN_TRY(fields.host("host"));
  message.nonce = CAIRN_TRY(fields.base64("nonce"));
  message.quoted = CAIRN_TRY(fields.base64("quoted"));
  message.signature = CAIRN_TRY(fields.base64("signature"));
  const json* pcrs = CAIRN_TRY(fields.object("pcrs"));
  for (const auto& [key, value] : pcrs->items()) {
    auto index = pcr_index(key);
    if (!index) return fields.invalid("pcrs", index.error().message());
    if (!value.is_string() || !is_lower_hex(value.get<std::string>(), 64)) {
      return fields.invalid("pcrs", "PCR " + key + ": must be 64 lowercase hex digits (sha256)");
    }
    message.pcrs[*index] = value.get<std::string>();
  }
  message.event_log = CAIRN_TRY(fields.base64("event_log"));
  message.systemd_log = CAIRN_TRY(fields.optional_base64("systemd_log"));
  message.boot_id = CAIRN_TRY(fields.string("boot_id"));
  if (message.boot_id.empty()) return fields.invalid("boot_id", "must not be empty");
  CAIRN_CHECK(fields.finish());
  return message;
}

std::string to_json(const Verdict& message) {
  json checks = json::array();
  for (const auto& check : message.checks) {
    checks.push_back(
        json{{"name", check.name}, {"passed", check.passed}, {"detail", check.detail}});
  }
  json root{{"host", message.host}, {"admitted", message.admitted}, {"checks", checks}};
  put_optional(root, "image_version", message.image_version);
  put_optional(root, "token", message.token);
  return root.dump();
}

Expected<Verdict> parse_Verdict(std::string_view text) {
  json root = CAIRN_TRY(parse_object(text, "Verdict"));
  Fields fields(root, "Verdict");
  Verdict message;
  message.host = CAIRN_TRY(fields.host("host"));
  message.admitted = CAIRN_TRY(fields.boolean("admitted"));
  message.image_version = CAIRN_TRY(fields.optional_string("image_version"));
  const json* checks = CAIRN_TRY(fields.array("checks"));
  for (std::size_t i = 0; i < checks->size(); ++i) {
    message.checks.push_back(
        CAIRN_TRY(parse_check((*checks)[i], "Verdict.checks[" + std::to_string(i) + "]")));
  }
  message.token = CAIRN_TRY(fields.optional_string("token"));
  CAIRN_CHECK(fields.finish());
  return message;
}

}  // namespace cairn::attest
