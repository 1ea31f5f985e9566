#include "common/golden_measurements.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace cairn;
using nlohmann::json;

namespace {

std::string hex_of(char digit) { return std::string(64, digit); }

GoldenMeasurements sample() {
  GoldenMeasurements m{
      .name = "kvm-host",
      .version = "1.2.3",
      .systemd_boot_authenticode = hex_of('1'),
      .uki_authenticode = hex_of('2'),
      .pcr12 = hex_of('c'),
      .pcr13 = hex_of('0'),
      .secure_boot_db_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
      .secure_boot_db_sha256 = hex_of('d'),
      .secure_boot_db_subject = "/CN=Cairn db"};
  m.pcr11["sections"] = hex_of('a');
  char digit = '3';
  for (auto phase : kBootPhases) m.pcr11[std::string(phase)] = hex_of(digit++);
  return m;
}

// The sample as JSON, edited by `edit`, parsed back.
template <class Edit>
Expected<GoldenMeasurements> parse_edited(Edit edit) {
  json document = json::parse(to_json(sample()));
  edit(document);
  return parse_golden_measurements(document.dump());
}

void require_invalid(const Expected<GoldenMeasurements>& result, const std::string& naming) {
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::invalid_input);
  CHECK_THAT(result.error().describe(), Catch::Contains(naming));
}

}  // namespace

TEST_CASE("golden measurements round trip through canonical JSON") {
  auto text = to_json(sample());
  auto parsed = parse_golden_measurements(text);
  REQUIRE(parsed.has_value());
  CHECK(parsed->name == "kvm-host");
  CHECK(parsed->version == "1.2.3");
  CHECK(parsed->pcr11 == sample().pcr11);
  CHECK(parsed->uki_authenticode == hex_of('2'));
  CHECK(parsed->secure_boot_db_pem == sample().secure_boot_db_pem);
  CHECK(parsed->secure_boot_db_subject == "/CN=Cairn db");
  CHECK(to_json(*parsed) == text);  // canonical: the same bytes again
  CHECK(text.back() == '\n');
  // Keys in boot order, not alphabetical: format first, the phases after "sections".
  CHECK(text.find("\"format\"") < text.find("\"name\""));
  CHECK(text.find("\"sections\"") < text.find("\"enter-initrd\""));
  CHECK(text.find("\"enter-initrd\"") < text.find("\"leave-initrd\""));
  CHECK(text.find("\"sysinit\"") < text.find("\"ready\""));
  CHECK_THAT(text, Catch::Contains("\n  \"pcr11\": {\n    \"sections\""));  // two-space indent
}

TEST_CASE("the db entry's owner GUID is optional, checked when written, and round-trips") {
  CHECK_THAT(to_json(sample()), !Catch::Contains("owner"));  // older files stay the same bytes
  auto with_owner = sample();
  with_owner.secure_boot_db_owner = std::string(kCairnSignatureOwner);
  auto parsed = parse_golden_measurements(to_json(with_owner));
  REQUIRE(parsed.has_value());
  CHECK(parsed->secure_boot_db_owner == kCairnSignatureOwner);
  CHECK(is_guid_text(kCairnSignatureOwner));
  for (const char* bad :
       {"C41A7C1E-CA1E-4A1E-9A0E-CA1E00000001", "c41a7c1e", "",
        "c41a7c1e-ca1e-4a1e-9a0e-ca1e0000000g", "{c41a7c1e-ca1e-4a1e-9a0e-ca1e0000}"}) {
    INFO(bad);
    require_invalid(parse_edited([&](json& d) { d["secure_boot_db"]["owner"] = bad; }),
                    "secure_boot_db.owner");
  }
}

TEST_CASE("an unknown key is refused, at the top and inside pcr11") {
  require_invalid(parse_edited([](json& d) { d["pcr14"] = hex_of('0'); }), "pcr14: unknown key");
  require_invalid(parse_edited([](json& d) { d["pcr11"]["shutdown"] = hex_of('0'); }),
                  "pcr11.shutdown: unknown key");
  require_invalid(parse_edited([](json& d) { d["secure_boot_db"]["der"] = "x"; }),
                  "secure_boot_db.der: unknown key");
}

TEST_CASE("a missing key is named") {
  require_invalid(parse_edited([](json& d) { d.erase("uki_authenticode"); }),
                  "uki_authenticode: missing");
  require_invalid(parse_edited([](json& d) { d["pcr11"].erase("ready"); }), "pcr11.ready: missing");
  require_invalid(parse_edited([](json& d) { d["secure_boot_db"].erase("subject"); }),
                  "secure_boot_db.subject: missing");
}

TEST_CASE("malformed hex is refused") {
  require_invalid(parse_edited([](json& d) { d["pcr12"] = std::string(63, '0'); }), "pcr12");
  require_invalid(parse_edited([](json& d) { d["pcr13"] = std::string(63, '0') + "g"; }), "pcr13");
  require_invalid(
      parse_edited([](json& d) { d["systemd_boot_authenticode"] = std::string(64, 'A'); }),
      "systemd_boot_authenticode: must be 64 lowercase hex digits");
  require_invalid(parse_edited([](json& d) { d["pcr11"]["sysinit"] = 7; }), "pcr11.sysinit");
  require_invalid(parse_edited([](json& d) { d["secure_boot_db"]["sha256"] = "ab"; }),
                  "secure_boot_db.sha256");
}

TEST_CASE("a wrong format number or shape is refused") {
  require_invalid(parse_edited([](json& d) { d["format"] = 2; }), "format");
  require_invalid(parse_edited([](json& d) { d["format"] = "1"; }), "format");
  require_invalid(parse_edited([](json& d) { d.erase("format"); }), "format: missing");
  require_invalid(parse_edited([](json& d) { d["pcr11"] = hex_of('a'); }),
                  "pcr11: must be an object");
  require_invalid(parse_edited([](json& d) { d["secure_boot_db"]["pem"] = "MIIB"; }),
                  "secure_boot_db.pem: must be a PEM certificate");
  require_invalid(parse_edited([](json& d) { d["name"] = ""; }), "name: must not be empty");
  require_invalid(parse_golden_measurements("[1, 2]"), "not a JSON object");
  require_invalid(parse_golden_measurements("{\"format\": 1,"), "measurements.json: not JSON");
}

TEST_CASE("measurements.json that names a key twice is refused") {
  auto text = to_json(sample());
  auto at = text.find("\"format\"");
  REQUIRE(at != std::string::npos);
  text.insert(at, "\"format\":1,");
  require_invalid(parse_golden_measurements(text), "key 'format' appears twice");
}
