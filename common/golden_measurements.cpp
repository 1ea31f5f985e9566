#include "common/golden_measurements.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "common/strict_json.hpp"

namespace cairn {

namespace {

using nlohmann::json;
using nlohmann::ordered_json;

constexpr std::string_view kSectionsKey = "sections";
constexpr std::string_view kPemBegin = "-----BEGIN CERTIFICATE-----";

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

bool is_guid_text(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = text[i];
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

namespace {

// One JSON object read strictly: every key it holds must be asked for, every key asked for must
// be there; errors name the dotted path of the key.
class StrictObject {
 public:
  StrictObject(const json& object, std::string path) : object_(object), path_(std::move(path)) {}

  Expected<const json*> member(std::string_view key) {
    seen_.emplace(key);
    auto it = object_.find(key);
    if (it == object_.end()) return invalid(key, "missing");
    return &*it;
  }
  Expected<std::string> string(std::string_view key) {
    const json* value = CAIRN_TRY(member(key));
    if (!value->is_string()) return invalid(key, "must be a string");
    auto text = value->get<std::string>();
    if (text.empty()) return invalid(key, "must not be empty");
    return text;
  }
  Expected<std::string> sha256(std::string_view key) {
    auto text = CAIRN_TRY(string(key));
    if (!is_sha256_hex(text)) return invalid(key, "must be 64 lowercase hex digits");
    return text;
  }
  Expected<std::optional<std::string>> optional_string(std::string_view key) {
    if (!object_.contains(key)) {
      seen_.emplace(key);
      return std::nullopt;
    }
    return CAIRN_TRY(string(key));
  }
  Expected<StrictObject> object(std::string_view key) {
    const json* value = CAIRN_TRY(member(key));
    if (!value->is_object()) return invalid(key, "must be an object");
    return StrictObject(*value, name(key));
  }
  Status finish() const {
    for (const auto& [key, value] : object_.items()) {
      if (!seen_.contains(key)) return invalid(key, "unknown key");
    }
    return {};
  }
  std::unexpected<Error> invalid(std::string_view key, std::string_view why) const {
    return fail(Errc::invalid_input, "measurements.json: " + name(key) + ": " + std::string(why));
  }

 private:
  std::string name(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  const json& object_;
  std::string path_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace

Expected<GoldenMeasurements> parse_golden_measurements(std::string_view text) {
  json root = CAIRN_TRY(parse_strict_json(text, "measurements.json"));
  if (!root.is_object()) return fail(Errc::invalid_input, "measurements.json: not a JSON object");
  StrictObject reader(root, "");
  const json* format = CAIRN_TRY(reader.member("format"));
  if (!format->is_number_unsigned() ||
      format->get<std::uint64_t>() != GoldenMeasurements::kFormat) {
    return reader.invalid("format", "this reader knows format " +
                                        std::to_string(GoldenMeasurements::kFormat) +
                                        " only, not " + format->dump());
  }
  GoldenMeasurements out;
  out.name = CAIRN_TRY(reader.string("name"));
  out.version = CAIRN_TRY(reader.string("version"));
  out.systemd_boot_authenticode = CAIRN_TRY(reader.sha256("systemd_boot_authenticode"));
  out.uki_authenticode = CAIRN_TRY(reader.sha256("uki_authenticode"));
  auto pcr11 = CAIRN_TRY(reader.object("pcr11"));
  out.pcr11.emplace(kSectionsKey, CAIRN_TRY(pcr11.sha256(kSectionsKey)));
  for (auto phase : kBootPhases) out.pcr11.emplace(phase, CAIRN_TRY(pcr11.sha256(phase)));
  CAIRN_CHECK(pcr11.finish());
  out.pcr12 = CAIRN_TRY(reader.sha256("pcr12"));
  out.pcr13 = CAIRN_TRY(reader.sha256("pcr13"));
  auto db = CAIRN_TRY(reader.object("secure_boot_db"));
  out.secure_boot_db_pem = CAIRN_TRY(db.string("pem"));
  if (!out.secure_boot_db_pem.starts_with(kPemBegin)) {
    return db.invalid("pem", "must be a PEM certificate");
  }
  out.secure_boot_db_sha256 = CAIRN_TRY(db.sha256("sha256"));
  out.secure_boot_db_subject = CAIRN_TRY(db.string("subject"));
  out.secure_boot_db_owner = CAIRN_TRY(db.optional_string("owner")).value_or("");
  if (!out.secure_boot_db_owner.empty() && !is_guid_text(out.secure_boot_db_owner)) {
    return db.invalid("owner", "must be a lowercase GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)");
  }
  CAIRN_CHECK(db.finish());
  CAIRN_CHECK(reader.finish());
  return out;
}

std::string to_json(const GoldenMeasurements& measurements) {
  // ordered_json: keys in the order written here, so the file reads top-down in boot order and
  // is byte-identical for identical values.
  ordered_json pcr11;
  auto value = [&](std::string_view key) {
    auto it = measurements.pcr11.find(key);
    return it == measurements.pcr11.end() ? std::string() : it->second;
  };
  pcr11[std::string(kSectionsKey)] = value(kSectionsKey);
  for (auto phase : kBootPhases) pcr11[std::string(phase)] = value(phase);
  ordered_json root;
  root["format"] = GoldenMeasurements::kFormat;
  root["name"] = measurements.name;
  root["version"] = measurements.version;
  root["systemd_boot_authenticode"] = measurements.systemd_boot_authenticode;
  root["uki_authenticode"] = measurements.uki_authenticode;
  root["pcr11"] = std::move(pcr11);
  root["pcr12"] = measurements.pcr12;
  root["pcr13"] = measurements.pcr13;
  root["secure_boot_db"] = {{"pem", measurements.secure_boot_db_pem},
                            {"sha256", measurements.secure_boot_db_sha256},
                            {"subject", measurements.secure_boot_db_subject}};
  if (!measurements.secure_boot_db_owner.empty()) {
    root["secure_boot_db"]["owner"] = measurements.secure_boot_db_owner;
  }
  return root.dump(2) + "\n";
}

}  // namespace cairn
