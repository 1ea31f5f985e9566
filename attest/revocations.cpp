#include "attest/revocations.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "attest/signed_payload.hpp"
#include "common/strict_json.hpp"

namespace cairn::attest {

namespace {

using nlohmann::json;

constexpr std::string_view kType = "cairn-revocations";
constexpr std::string_view kWhat = "revocation list";

Expected<RevocationList> parse_list(std::string_view payload) {
  auto malformed = [](const std::string& why) {
    return fail(Errc::integrity, std::string(kWhat) + ": " + why);
  };
  auto parsed = parse_strict_json(payload, kWhat);
  if (!parsed) return malformed(parsed.error().message());
  const json& root = *parsed;
  if (!root.is_object() || root.size() != 5 || root.value("type", "") != kType) {
    return malformed("not a revocation list");
  }
  for (const char* key : {"serial", "issued_at", "expires_at"}) {
    if (!root.contains(key) || !root[key].is_number_integer()) {
      return malformed(std::string("'") + key + "' must be an integer");
    }
  }
  if (!root.contains("revoked") || !root["revoked"].is_array()) {
    return malformed("'revoked' must be an array");
  }
  RevocationList list{.serial = root["serial"].get<std::int64_t>(),
                      .issued_at = root["issued_at"].get<std::int64_t>(),
                      .expires_at = root["expires_at"].get<std::int64_t>()};
  for (const auto& image : root["revoked"]) {
    if (!image.is_string()) return malformed("'revoked' must hold image names");
    list.revoked.push_back(image.get<std::string>());
  }
  return list;
}

}  // namespace

bool RevocationList::revokes(std::string_view image) const {
  return std::ranges::find(revoked, image) != revoked.end();
}

Expected<std::string> sign_revocation_list(const RevocationList& list, EVP_PKEY* key) {
  json payload{{"type", kType},
               {"serial", list.serial},
               {"issued_at", list.issued_at},
               {"expires_at", list.expires_at},
               {"revoked", list.revoked}};
  return sign_payload(payload.dump(), key, kWhat);
}

Expected<RevocationList> verify_revocation_list(std::string_view text, EVP_PKEY* public_key,
                                                std::chrono::system_clock::time_point now) {
  auto list = CAIRN_TRY(parse_list(CAIRN_TRY(open_signed_payload(text, public_key, kWhat))));
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  if (seconds >= list.expires_at) {
    return fail(Errc::crypto, std::string(kWhat) + " " + std::to_string(list.serial) +
                                  ": expired at " + std::to_string(list.expires_at) + " (now " +
                                  std::to_string(seconds) + ")");
  }
  return list;
}

}  // namespace cairn::attest
