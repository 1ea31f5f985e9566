#include "common/manifest.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace cairn;
using nlohmann::json;

namespace {

BundleManifest sample() {
  const std::string digest(64, 'a');
  return {.name = "kvm-host",
          .version = "1.2.0",
          .security_version = 3,
          .machine_class = "x86_64-kvm-host",
          .created = "2023-11-14T22:13:20Z",
          .root_hash = std::string(64, 'b'),
          .payloads = {
              {"root.erofs.zst", PayloadTarget::root, 4096, digest, PayloadCompression::zstd},
              {"root.verity", PayloadTarget::verity, 512, digest, PayloadCompression::none},
              {"cairn_1.2.0.efi", PayloadTarget::uki, 1024, digest, PayloadCompression::none}}};
}

// The sample as JSON, changed by `edit`, parsed back: the error text or "ok".
std::string parse_edited(const std::function<void(json&)>& edit) {
  json document = json::parse(to_json(sample()));
  edit(document);
  auto parsed = parse_manifest(document.dump());
  return parsed ? "ok" : parsed.error().describe();
}

}  // namespace

TEST_CASE("a manifest survives a JSON round trip", "[manifest]") {
  auto text = to_json(sample());
  auto parsed = parse_manifest(text);
  REQUIRE(parsed.has_value());
  CHECK(parsed->name == "kvm-host");
  CHECK(parsed->security_version == 3);
  REQUIRE(parsed->payloads.size() == 3);
  CHECK(parsed->payloads[0].compression == PayloadCompression::zstd);
  CHECK(parsed->find(PayloadTarget::uki)->name == "cairn_1.2.0.efi");
  CHECK(to_json(*parsed) == text);  // canonical: the bytes that get signed are stable
}

TEST_CASE("manifest errors name what is wrong", "[manifest]") {
  CHECK_THAT(parse_edited([](json& m) { m["surprise"] = 1; }),
             Catch::Contains("unknown key 'surprise'"));
  CHECK_THAT(parse_edited([](json& m) { m.erase("security_version"); }),
             Catch::Contains("missing 'security_version'"));
  CHECK_THAT(parse_edited([](json& m) { m["security_version"] = -1; }),
             Catch::Contains("security_version: must be a non-negative integer"));
  CHECK_THAT(parse_edited([](json& m) { m["format"] = 2; }), Catch::Contains("format"));
  CHECK_THAT(parse_edited([](json& m) { m["root_hash"] = "xyz"; }), Catch::Contains("root_hash"));
  CHECK_THAT(parse_edited([](json& m) { m["payloads"][0]["name"] = "../etc/passwd"; }),
             Catch::Contains("not a plain file name"));
  CHECK_THAT(parse_edited([](json& m) { m["payloads"][0]["name"] = "a/b"; }),
             Catch::Contains("not a plain file name"));
  CHECK_THAT(parse_edited([](json& m) { m["payloads"][1]["name"] = "root.erofs.zst"; }),
             Catch::Contains("listed twice"));
  CHECK_THAT(parse_edited([](json& m) { m["payloads"][1]["target"] = "root"; }),
             Catch::Contains("two payloads for target root"));
  CHECK_THAT(parse_edited([](json& m) { m["payloads"].erase(2); }),
             Catch::Contains("no payload for target uki"));
  CHECK_THAT(parse_edited([](json& m) { m["payloads"][0]["compression"] = "xz"; }),
             Catch::Contains("unknown value 'xz'"));
  CHECK_THAT(parse_edited([](json& m) { m["payloads"][0]["sha256"] = std::string(64, 'A'); }),
             Catch::Contains("sha256"));
  CHECK_THAT(parse_edited([](json& m) { m["payloads"][0]["name"] = "manifest.sig"; }),
             Catch::Contains("may not be called manifest.sig"));
  CHECK_THAT(parse_edited([](json& m) { m["version"] = "1.0.0+3-0"; }),
             Catch::Contains("manifest.version: version '1.0.0+3-0' contains '+'"));
  CHECK_THAT(parse_edited([](json& m) { m["version"] = std::string(24, '1'); }),
             Catch::Contains("at most 23"));
  CHECK_THAT(parse_edited([](json& m) { m["version"] = "1.0-RC1"; }), Catch::Contains("'R'"));
  CHECK_THAT(parse_edited([](json& m) { m["payloads"][2]["size"] = std::uint64_t{1} << 30; }),
             Catch::Contains("declares 1073741824 bytes, more than the 134217728"));
  CHECK(parse_edited([](json& m) { m["payloads"][2]["size"] = kMaxUkiBytes; }) == "ok");
  CHECK(parse_manifest("not json").error().code() == Errc::invalid_input);
  CHECK(parse_edited([](json&) {}) == "ok");
}

TEST_CASE("member names are plain file names", "[manifest]") {
  CHECK(is_safe_member_name("root.erofs.zst"));
  CHECK(is_safe_member_name("cairn_1.0.0+3-0.efi"));
  for (const char* bad : {"", ".", "..", ".hidden", "a/b", "/abs", "a\\b", "x y"}) {
    INFO(bad);
    CHECK_FALSE(is_safe_member_name(bad));
  }
}

TEST_CASE("a signed manifest that names a key twice is refused, not read last-value-wins",
          "[manifest]") {
  // A lower security version first: a reader keeping the first value would see 0, one keeping
  // the last 3. Neither may be chosen.
  auto text = to_json(sample());
  auto at = text.find("\"security_version\"");
  REQUIRE(at != std::string::npos);
  text.insert(at, "\"security_version\":0,");
  auto parsed = parse_manifest(text);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().code() == Errc::invalid_input);
  CHECK_THAT(parsed.error().describe(),
             Catch::Contains("manifest: key 'security_version' appears twice"));
}
