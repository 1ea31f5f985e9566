#include "common/manifest.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <nlohmann/json.hpp>
#include <set>

#include "common/hash.hpp"
#include "common/json_object.hpp"
#include "common/strict_json.hpp"
#include "common/version.hpp"

namespace cairn {

namespace {

using nlohmann::json;

template <class Enum, std::size_t N>
Expected<Enum> parse_enum(JsonObjectReader& reader, const std::string& key,
                          const std::array<Enum, N>& values) {
  std::string text = CAIRN_TRY(reader.string(key));
  for (Enum value : values) {
    if (to_string(value) == text) return value;
  }
  return reader.invalid(key, "unknown value '" + text + "'");
}

Expected<ManifestPayload> parse_payload(const json& object, const std::string& where) {
  CAIRN_CHECK(JsonObjectReader::require_object(object, where));
  JsonObjectReader reader(object, where);
  ManifestPayload payload;
  payload.name = CAIRN_TRY(reader.string("name"));
  if (!is_safe_member_name(payload.name)) {
    return reader.invalid("name", "'" + payload.name + "' is not a plain file name");
  }
  payload.target = CAIRN_TRY(
      parse_enum(reader, "target",
                 std::array{PayloadTarget::root, PayloadTarget::verity, PayloadTarget::uki}));
  payload.size = CAIRN_TRY(reader.unsigned_number("size"));
  if (payload.size == 0) return reader.invalid("size", "must not be zero");
  payload.sha256 = CAIRN_TRY(reader.string("sha256"));
  if (!is_lower_hex(payload.sha256, 64))
    return reader.invalid("sha256", "must be 64 lowercase hex digits");
  payload.compression = CAIRN_TRY(parse_enum(
      reader, "compression", std::array{PayloadCompression::none, PayloadCompression::zstd}));
  CAIRN_CHECK(reader.finish());
  return payload;
}

}  // namespace

std::string_view to_string(PayloadTarget target) {
  switch (target) {
    case PayloadTarget::root:
      return "root";
    case PayloadTarget::verity:
      return "verity";
    case PayloadTarget::uki:
      return "uki";
  }
  return "?";
}

std::string_view to_string(PayloadCompression compression) {
  return compression == PayloadCompression::zstd ? "zstd" : "none";
}

bool is_safe_member_name(std::string_view name) {
  return !name.empty() && name.size() <= 128 && name.front() != '.' &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '+' ||
                  c == '-';
         });
}

const ManifestPayload* BundleManifest::find(PayloadTarget target) const {
  for (const auto& payload : payloads) {
    if (payload.target == target) return &payload;
  }
  return nullptr;
}

Expected<BundleManifest> parse_manifest(std::string_view text) {
  json root = CAIRN_TRY(parse_strict_json(text, "manifest"));
  if (!root.is_object()) return fail(Errc::invalid_input, "manifest: not a JSON object");
  JsonObjectReader reader(root, "manifest");
  if (CAIRN_TRY(reader.unsigned_number("format")) != BundleManifest::kFormat) {
    return reader.invalid("format", "this cairn-update reads format " +
                                        std::to_string(BundleManifest::kFormat) + " only");
  }
  BundleManifest manifest;
  manifest.name = CAIRN_TRY(reader.string("name"));
  if (!is_safe_member_name(manifest.name)) return reader.invalid("name", "not a plain name");
  manifest.version = CAIRN_TRY(reader.string("version"));
  if (auto valid = check_version(manifest.version); !valid) {
    return reader.invalid("version", valid.error().message());
  }
  manifest.security_version = CAIRN_TRY(reader.unsigned_number("security_version"));
  manifest.machine_class = CAIRN_TRY(reader.string("machine_class"));
  if (!is_safe_member_name(manifest.machine_class)) {
    return reader.invalid("machine_class", "not a plain name");
  }
  manifest.created = CAIRN_TRY(reader.string("created"));
  manifest.root_hash = CAIRN_TRY(reader.string("root_hash"));
  if (!is_lower_hex(manifest.root_hash, 64)) {
    return reader.invalid("root_hash", "must be 64 lowercase hex digits");
  }
  const json* payloads = CAIRN_TRY(reader.array("payloads"));
  std::set<std::string> names;
  std::set<PayloadTarget> targets;
  for (std::size_t i = 0; i < payloads->size(); ++i) {
    auto payload =
        CAIRN_TRY(parse_payload((*payloads)[i], "manifest.payloads[" + std::to_string(i) + "]"));
    if (!names.insert(payload.name).second) {
      return reader.invalid("payloads", "'" + payload.name + "' listed twice");
    }
    if (!targets.insert(payload.target).second) {
      return reader.invalid("payloads",
                            "two payloads for target " + std::string(to_string(payload.target)));
    }
    if (payload.target == PayloadTarget::uki && payload.size > kMaxUkiBytes) {
      return reader.invalid(
          "payloads", "the UKI " + payload.name + " declares " + std::to_string(payload.size) +
                          " bytes, more than the " + std::to_string(kMaxUkiBytes) +
                          " a boot entry may take");
    }
    if (payload.name == "manifest.json" || payload.name == "manifest.sig") {
      return reader.invalid("payloads", "a payload may not be called " + payload.name);
    }
    manifest.payloads.push_back(std::move(payload));
  }
  for (auto target : {PayloadTarget::root, PayloadTarget::verity, PayloadTarget::uki}) {
    if (!targets.contains(target)) {
      return reader.invalid("payloads", "no payload for target " + std::string(to_string(target)));
    }
  }
  CAIRN_CHECK(reader.finish());
  return manifest;
}

std::string to_json(const BundleManifest& manifest) {
  json payloads = json::array();
  for (const auto& payload : manifest.payloads) {
    payloads.push_back(json{{"name", payload.name},
                            {"target", to_string(payload.target)},
                            {"size", payload.size},
                            {"sha256", payload.sha256},
                            {"compression", to_string(payload.compression)}});
  }
  json root{{"format", BundleManifest::kFormat},
            {"name", manifest.name},
            {"version", manifest.version},
            {"security_version", manifest.security_version},
            {"machine_class", manifest.machine_class},
            {"created", manifest.created},
            {"root_hash", manifest.root_hash},
            {"payloads", payloads}};
  return root.dump(2) + "\n";
}

}  // namespace cairn
