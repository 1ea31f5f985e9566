#include "fleet/channel_index.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "unit/common/bundle_pki.hpp"
#include "unit/fleet/sample_index.hpp"

using namespace cairn;
using namespace cairn::fleet;
using namespace cairn::fleet::testing;
using namespace std::chrono_literals;
using Json = nlohmann::ordered_json;

namespace {

ChannelIndex sample_index() {
  ChannelIndex index{.channel = "stable", .serial = 42, .expires = at("2026-12-10T21:00:00Z")};
  index.entries = {sample_entry("1.0.10"), sample_entry("1.0.9"),
                   sample_entry("1.0.9", "aarch64-kvm")};
  index.entries[0].rollout.waves = {{0.1, 0s}, {0.5, 1h}, {1.0, 24h}};
  index.entries[1].state = EntryState::paused;
  index.entries[2].rollout.waves = {{0.25, 10min}};  // partial: a quarter of the hosts only
  return index;
}

// The sample as JSON, changed by `edit`, parsed back.
template <class Edit>
Expected<ChannelIndex> parse_edited(Edit edit) {
  Json json = Json::parse(channel_index_json(sample_index()));
  edit(json);
  return parse_channel_index(json.dump());
}

// The entry with three waves (x86_64-kvm 1.0.10, last once sorted).
Json& entry2(Json& json) { return json["entries"][2]; }

}  // namespace

TEST_CASE("a channel index survives its canonical form", "[channel_index]") {
  ChannelIndex index = sample_index();
  std::string text = channel_index_json(index);
  auto parsed = parse_channel_index(text);
  REQUIRE(parsed.has_value());
  // Sorted by machine class, then version (1.0.9 before 1.0.10: versions, not strings).
  CHECK(parsed->entries[0] == index.entries[2]);
  CHECK(parsed->entries[1] == index.entries[1]);
  CHECK(parsed->entries[2] == index.entries[0]);
  CHECK(parsed->serial == 42);
  CHECK(parsed->expires == index.expires);
  CHECK(channel_index_json(*parsed) == text);
  // Deterministic: the order entries were added in does not change the bytes.
  std::swap(index.entries[0], index.entries[2]);
  CHECK(channel_index_json(index) == text);
  CHECK(text.starts_with("{\n  \"format\": 1,\n  \"channel\": \"stable\",\n  \"serial\": 42,"));
}

TEST_CASE("times are RFC 3339 UTC to the second, and nothing else", "[channel_index]") {
  CHECK(format_time(TimePoint(0s)) == "1970-01-01T00:00:00Z");
  CHECK(format_time(at("2024-02-29T23:59:59Z")) == "2024-02-29T23:59:59Z");
  CHECK(at("2026-12-10T21:00:00Z") - at("2026-12-03T21:00:00Z") == 24h * 7);
  for (const char* bad : {"2026-12-10T21:00:00+00:00", "2026-12-10 21:00:00Z", "2026-12-10T21:00Z",
                          "2026-12-10T21:00:00.5Z", "2026-12-10t21:00:00z", "", "20261210T210000Z",
                          "2026-12-10T21:00:00Z ", "+026-12-10T21:00:00Z"}) {
    INFO(bad);
    auto parsed = parse_time(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK_THAT(parsed.error().message(), Catch::Contains("is not RFC 3339 UTC"));
  }
  CHECK_THAT(parse_time("2023-02-29T00:00:00Z").error().message(), Catch::Contains("not a date"));
  CHECK_THAT(parse_time("2026-13-01T00:00:00Z").error().message(), Catch::Contains("not a date"));
  CHECK_THAT(parse_time("2026-12-10T24:00:00Z").error().message(),
             Catch::Contains("not a time of day"));
  CHECK_THAT(parse_time("2026-12-31T23:59:60Z").error().message(),
             Catch::Contains("not a time of day"));
}

TEST_CASE("every field of an index is checked, naming it", "[channel_index]") {
  struct Case {
    const char* what;
    std::function<void(Json&)> edit;
    const char* expected;
  };
  const std::vector<Case> cases = {
      {"format", [](Json& j) { j["format"] = 2; },
       "channel index.format: this Cairn reads format 1"},
      {"format type", [](Json& j) { j["format"] = "1"; }, "format: must be a non-negative"},
      {"channel capital", [](Json& j) { j["channel"] = "Stable"; }, "channel index.channel:"},
      {"channel start", [](Json& j) { j["channel"] = "-stable"; }, "must start with"},
      {"channel slash", [](Json& j) { j["channel"] = "a/b"; }, "may hold only"},
      {"channel empty", [](Json& j) { j["channel"] = ""; }, "channel name is empty"},
      {"channel long", [](Json& j) { j["channel"] = std::string(65, 'a'); }, "longer than 64"},
      {"serial negative", [](Json& j) { j["serial"] = -1; }, "serial: must be a non-negative"},
      {"serial text", [](Json& j) { j["serial"] = "7"; }, "serial: must be a non-negative"},
      {"expires", [](Json& j) { j["expires"] = "2026-12-10T21:00:00+01:00"; },
       "expires: time '2026-12-10T21:00:00+01:00' is not RFC 3339"},
      {"published", [](Json& j) { entry2(j)["published"] = "yesterday"; },
       "entries[2].published: time 'yesterday'"},
      {"start", [](Json& j) { entry2(j)["rollout"]["start"] = 0; },
       "rollout.start: must be a string"},
      {"version empty", [](Json& j) { entry2(j)["version"] = ""; },
       "entries[2].version: the version is empty"},
      {"version plus", [](Json& j) { entry2(j)["version"] = "1.0+1"; }, "entries[2].version:"},
      {"machine class", [](Json& j) { entry2(j)["machine_class"] = "../x"; },
       "machine_class: '../x' is not"},
      {"security version", [](Json& j) { entry2(j)["security_version"] = 1.5; },
       "security_version: must be"},
      {"sha256 upper", [](Json& j) { entry2(j)["bundle"]["sha256"] = std::string(64, 'A'); },
       "bundle.sha256: must be 64 lower-case hex digits"},
      {"sha256 short", [](Json& j) { entry2(j)["bundle"]["sha256"] = "abc"; }, "bundle.sha256:"},
      {"size zero", [](Json& j) { entry2(j)["bundle"]["size"] = 0; },
       "bundle.size: must not be zero"},
      {"absolute path", [](Json& j) { entry2(j)["bundle"]["path"] = "/bundles/a.cairnb"; },
       "must be relative"},
      {"outside bundles", [](Json& j) { entry2(j)["bundle"]["path"] = "channels/a.cairnb"; },
       "must be under bundles/"},
      {"bundles prefix", [](Json& j) { entry2(j)["bundle"]["path"] = "bundlesx/a.cairnb"; },
       "must be under bundles/"},
      {"dot dot", [](Json& j) { entry2(j)["bundle"]["path"] = "bundles/../channels/a"; },
       "must not contain '..'"},
      {"double slash", [](Json& j) { entry2(j)["bundle"]["path"] = "bundles//a.cairnb"; },
       "must not contain '//'"},
      {"backslash", [](Json& j) { entry2(j)["bundle"]["path"] = "bundles/a\\b.cairnb"; },
       "must not contain '\\'"},
      {"query", [](Json& j) { entry2(j)["bundle"]["path"] = "bundles/a.cairnb?x=1"; },
       "'?', '#' or '%'"},
      {"fragment", [](Json& j) { entry2(j)["bundle"]["path"] = "bundles/a.cairnb#x"; },
       "'?', '#' or '%'"},
      {"escape", [](Json& j) { entry2(j)["bundle"]["path"] = "bundles/%2e%2e/a"; },
       "'?', '#' or '%'"},
      {"no file", [](Json& j) { entry2(j)["bundle"]["path"] = "bundles/"; }, "must name a file"},
      {"hidden", [](Json& j) { entry2(j)["bundle"]["path"] = "bundles/.a.cairnb"; },
       "not a plain file name"},
      {"newline", [](Json& j) { entry2(j)["bundle"]["path"] = "bundles/a\n.cairnb"; },
       "'bundles/a\\x0a.cairnb'"},
      {"no waves", [](Json& j) { entry2(j)["rollout"]["waves"] = Json::array(); },
       "at least one wave"},
      {"fraction zero", [](Json& j) { entry2(j)["rollout"]["waves"][0]["fraction"] = 0; },
       "rollout: waves[0]: fraction must be in (0, 1]"},
      {"fraction above one", [](Json& j) { entry2(j)["rollout"]["waves"][2]["fraction"] = 1.5; },
       "waves[2]: fraction must be in (0, 1]"},
      {"fraction text", [](Json& j) { entry2(j)["rollout"]["waves"][0]["fraction"] = "0.1"; },
       "waves[0].fraction: must be a number"},
      {"fractions equal", [](Json& j) { entry2(j)["rollout"]["waves"][1]["fraction"] = 0.1; },
       "waves[1]: fraction must be larger"},
      {"delays equal", [](Json& j) { entry2(j)["rollout"]["waves"][1]["delay_seconds"] = 0; },
       "waves[1]: delay must be longer"},
      {"delay negative", [](Json& j) { entry2(j)["rollout"]["waves"][0]["delay_seconds"] = -5; },
       "waves[0].delay_seconds: must be a non-negative integer"},
      {"delay huge", [](Json& j) { entry2(j)["rollout"]["waves"][2]["delay_seconds"] = 1e12; },
       "waves[2].delay_seconds: must be a non-negative integer"},
      {"delay decades",
       [](Json& j) { entry2(j)["rollout"]["waves"][2]["delay_seconds"] = 400000000; },
       "(ten years)"},
      {"max failures", [](Json& j) { entry2(j)["rollout"]["max_failures"] = 0; },
       "max_failures must be at least 1"},
      {"state", [](Json& j) { entry2(j)["state"] = "stopped"; },
       "state: state \"stopped\" is none of"},
      {"unknown top", [](Json& j) { j["mirror"] = "x"; }, "channel index: unknown key 'mirror'"},
      {"unknown entry", [](Json& j) { entry2(j)["note"] = "x"; }, "entries[2]: unknown key 'note'"},
      {"unknown bundle", [](Json& j) { entry2(j)["bundle"]["url"] = "x"; },
       "bundle: unknown key 'url'"},
      {"unknown rollout", [](Json& j) { entry2(j)["rollout"]["x"] = 1; },
       "rollout: unknown key 'x'"},
      {"unknown wave", [](Json& j) { entry2(j)["rollout"]["waves"][0]["x"] = 1; },
       "waves[0]: unknown key 'x'"},
      {"missing", [](Json& j) { entry2(j).erase("state"); }, "entries[2]: missing 'state'"},
      {"entry type", [](Json& j) { j["entries"][1] = 3; }, "entries[1]: must be an object"},
      {"entries type", [](Json& j) { j["entries"] = Json::object(); }, "entries: must be an array"},
      {"same entry twice", [](Json& j) { j["entries"][2] = j["entries"][1]; },
       "entries[2]: version 1.0.9 of machine class x86_64-kvm is listed twice"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    auto parsed = parse_edited(c.edit);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code() == Errc::invalid_input);
    CHECK_THAT(parsed.error().message(), Catch::Contains(c.expected));
    CHECK(parsed.error().message().find('\n') == std::string::npos);
  }
}

TEST_CASE("an index's JSON is strict", "[channel_index]") {
  std::string text = channel_index_json(sample_index());
  std::string twice = text;
  twice.insert(twice.find("\"serial\""), "\"serial\": 1, ");
  CHECK_THAT(parse_channel_index(twice).error().message(), Catch::Contains("appears twice"));
  CHECK_THAT(parse_channel_index("[]").error().message(), Catch::Contains("must be an object"));
  CHECK_THAT(parse_channel_index("{").error().message(), Catch::Contains("channel index"));
  // Accepted: the last wave short of 1 (a partial rollout), an integer fraction, no entries.
  CHECK(parse_edited([](Json& j) { j["entries"][0]["rollout"]["waves"][0]["fraction"] = 1; }));
  CHECK(parse_edited([](Json& j) { j["entries"] = Json::array(); }));
}

TEST_CASE("a fetched index is believed only once signed, fresh, in order and ours",
          "[channel_index]") {
  cairn::testing::BundlePki pki;
  CmsSigner signer = pki.signer();
  CmsVerifier trust = pki.verifier();
  std::string bytes = channel_index_json(sample_index());
  std::string signature = signer.sign(bytes).value();
  const IndexExpectations fresh{.now = at("2026-12-05T00:00:00Z"), .channel = "stable"};

  auto good = verify_channel_index(bytes, signature, trust, fresh);
  REQUIRE(good.has_value());
  CHECK(good->serial == 42);

  SECTION("one byte changed") {
    std::string tampered = bytes;
    tampered[tampered.find("42")] = '9';
    auto result = verify_channel_index(tampered, signature, trust, fresh);
    REQUIRE_FALSE(result);
    CHECK(result.error().code() == Errc::integrity);
  }
  SECTION("signed by a key the hosts do not trust") {
    cairn::testing::BundlePki stranger;
    auto result = verify_channel_index(bytes, stranger.signer().sign(bytes).value(), trust, fresh);
    REQUIRE_FALSE(result);
    CHECK(result.error().code() == Errc::crypto);
    CHECK_THAT(result.error().describe(), Catch::Contains("not trusted"));
  }
  SECTION("nothing is parsed before the signature holds") {
    auto result = verify_channel_index("{not json", signature, trust, fresh);
    REQUIRE_FALSE(result);
    CHECK(result.error().code() == Errc::integrity);
    CHECK_THAT(result.error().describe(), Catch::Contains("signature"));
  }
  SECTION("expired: refused from the expiry's second on") {
    auto at_expiry = fresh;
    at_expiry.now = at("2026-12-10T21:00:00Z");
    auto result = verify_channel_index(bytes, signature, trust, at_expiry);
    REQUIRE_FALSE(result);
    CHECK(result.error().code() == Errc::integrity);
    CHECK(result.error().message() == "channel index expired at 2026-12-10T21:00:00Z");
    at_expiry.now -= 1s;
    CHECK(verify_channel_index(bytes, signature, trust, at_expiry));
  }
  SECTION("a serial below the last one seen is a replay; the same one is not") {
    auto replay = fresh;
    replay.last_serial = 43;
    auto result = verify_channel_index(bytes, signature, trust, replay);
    REQUIRE_FALSE(result);
    CHECK(result.error().code() == Errc::integrity);
    CHECK(result.error().message() == "replayed: serial 42 is older than 43 already seen");
    replay.last_serial = 42;
    CHECK(verify_channel_index(bytes, signature, trust, replay));
    replay.last_serial = 0;
    CHECK(verify_channel_index(bytes, signature, trust, replay));
  }
  SECTION("another channel's index") {
    auto staging = fresh;
    staging.channel = "staging";
    auto result = verify_channel_index(bytes, signature, trust, staging);
    REQUIRE_FALSE(result);
    CHECK(result.error().code() == Errc::integrity);
    CHECK_THAT(result.error().message(), Catch::Contains("'stable'"));
  }
}
