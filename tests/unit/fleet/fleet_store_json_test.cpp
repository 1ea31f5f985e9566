#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "fleet/fleet_store.hpp"
#include "fleet/reboot_lock.hpp"
#include "support/require.hpp"

using namespace cairn;
using namespace cairn::fleet;
using cairn::testing::require;
using nlohmann::json;

namespace {

HostRecord sample_host() {
  return {.id = "0f3c9a7e5b1d4c2a8e6f0a1b2c3d4e5f",
          .group = "rack-1",
          .channel = "stable",
          .machine_class = "x86_64-kvm",
          .hostname = "hv-0417",
          .version = "1.0.0",
          .phase = "observing",
          .target = "1.1.0",
          .message = "waiting for wave 2 (opens 2026-12-04T21:00:00Z) — Grüße",
          .updated = "2026-12-03T21:00:00Z"};
}

OutcomeRecord sample_outcome() {
  return {.host = "h1",
          .group = "rack-1",
          .from_version = "1.0.0",
          .to_version = "1.1.0",
          .outcome = OutcomeKind::rolled_back,
          .reason = "attestation failed: PCR 11 differs",
          .by_operator = true,
          .steps = {{"download", 12.5}, {"write", 40}, {"verify", 0.125}},
          .window_seconds = 183.75,
          .checks = {{"attestation", false, "PCR 11 differs"}, {"units", true, ""}},
          .at = "2026-12-03T21:10:00Z"};
}

VersionControl sample_control() {
  return {.state = ControlState::halted,
          .by = "h1",
          .reason = "3 failures reach max_failures 3",
          .at = "2026-12-03T21:20:00Z"};
}

// The error text of parsing `text` as `parse` reads it (checks it is an invalid_input).
template <class Parse>
std::string refusal(Parse parse, const std::string& text) {
  auto parsed = parse(text);
  REQUIRE_FALSE(parsed.has_value());
  CHECK(parsed.error().code() == Errc::invalid_input);
  return parsed.error().describe();
}

// `record`'s JSON with `edit` applied to the object.
template <class Edit>
std::string edited(const std::string& record, Edit edit) {
  json object = json::parse(record);
  edit(object);
  return object.dump();
}

}  // namespace

TEST_CASE("fleet records: every record survives a JSON round trip", "[fleet_store]") {
  CHECK(require(parse_host_record(host_record_json(sample_host()))) == sample_host());
  CHECK(require(parse_outcome_record(outcome_record_json(sample_outcome()))) == sample_outcome());
  CHECK(require(parse_version_control(version_control_json(sample_control()))) == sample_control());
  OutcomeRecord bare{.host = "h2", .to_version = "2.0"};  // no steps, no checks
  CHECK(require(parse_outcome_record(outcome_record_json(bare))) == bare);
  for (auto state : {ControlState::halted, ControlState::paused, ControlState::pulled}) {
    VersionControl control{.state = state};
    CHECK(require(parse_version_control(version_control_json(control))).state == state);
  }
}

TEST_CASE("fleet records: enums go by name, 'alive' is left out", "[fleet_store]") {
  json outcome = json::parse(outcome_record_json(sample_outcome()));
  CHECK(outcome["outcome"] == "rolled-back");
  CHECK(outcome["steps"][1] == json({{"step", "write"}, {"seconds", 40.0}}));
  CHECK(json::parse(version_control_json(sample_control()))["state"] == "halted");
  HostRecord stale = sample_host();
  stale.alive = false;
  CHECK_FALSE(json::parse(host_record_json(stale)).contains("alive"));
  CHECK(require(parse_host_record(host_record_json(stale))).alive);  // hosts() decides it
}

TEST_CASE("fleet records: a host record without a host name (an older cairn-update) reads",
          "[fleet_store]") {
  HostRecord older = sample_host();
  older.hostname.clear();
  std::string text = host_record_json(older);
  CHECK_FALSE(json::parse(text).contains("hostname"));  // as an older cairn-fleet expects
  CHECK(require(parse_host_record(text)) == older);
  CHECK(json::parse(host_record_json(sample_host()))["hostname"] == "hv-0417");
  CHECK_THAT(refusal(parse_host_record,
                     edited(host_record_json(sample_host()), [](json& o) { o["hostname"] = 7; })),
             Catch::Equals("host record: 'hostname' must be a string"));
}

TEST_CASE("fleet records: missing, mistyped and unknown fields are refused by name",
          "[fleet_store]") {
  std::string host = host_record_json(sample_host());
  CHECK_THAT(refusal(parse_host_record, edited(host, [](json& o) { o.erase("channel"); })),
             Catch::Equals("host record: 'channel' is missing"));
  CHECK_THAT(refusal(parse_host_record, edited(host, [](json& o) { o["version"] = 1; })),
             Catch::Equals("host record: 'version' must be a string"));
  CHECK_THAT(refusal(parse_host_record, edited(host, [](json& o) { o["alive"] = true; })),
             Catch::Equals("host record: unknown field 'alive'"));
  CHECK_THAT(refusal(parse_host_record, edited(host, [](json& o) { o["id"] = ""; })),
             Catch::Equals("host record: 'id' must not be empty"));

  std::string outcome = outcome_record_json(sample_outcome());
  CHECK_THAT(refusal(parse_outcome_record, edited(outcome, [](json& o) { o["outcome"] = "ok"; })),
             Catch::Equals("outcome record: outcome \"ok\" is neither committed nor rolled-back"));
  CHECK_THAT(
      refusal(parse_outcome_record, edited(outcome, [](json& o) { o["window_seconds"] = "3"; })),
      Catch::Equals("outcome record: 'window_seconds' must be a number"));
  CHECK_THAT(
      refusal(parse_outcome_record, edited(outcome, [](json& o) { o["window_seconds"] = -1; })),
      Catch::Equals("outcome record: 'window_seconds' must not be negative"));
  CHECK_THAT(refusal(parse_outcome_record,
                     edited(outcome, [](json& o) { o["steps"][1]["seconds"] = nullptr; })),
             Catch::Equals("outcome record steps[1]: 'seconds' must be a number"));
  CHECK_THAT(refusal(parse_outcome_record,
                     edited(outcome, [](json& o) { o["checks"][0]["required"] = true; })),
             Catch::Equals("outcome record checks[0]: unknown field 'required'"));
  CHECK_THAT(refusal(parse_outcome_record, edited(outcome, [](json& o) { o["checks"][1] = 1; })),
             Catch::Equals("outcome record checks[1]: not a JSON object"));
  CHECK_THAT(
      refusal(parse_outcome_record, edited(outcome, [](json& o) { o["steps"] = json::object(); })),
      Catch::Equals("outcome record: 'steps' must be an array"));

  std::string control = version_control_json(sample_control());
  CHECK_THAT(
      refusal(parse_version_control, edited(control, [](json& o) { o["state"] = "stopped"; })),
      Catch::Equals("version control: state \"stopped\" is none of halted, paused, pulled"));
  CHECK_THAT(refusal(parse_version_control, edited(control, [](json& o) { o.erase("by"); })),
             Catch::Equals("version control: 'by' is missing"));
}

TEST_CASE("fleet records: what is not one JSON object is refused", "[fleet_store]") {
  CHECK_THAT(refusal(parse_host_record, "[]"), Catch::Equals("host record: not a JSON object"));
  CHECK_THAT(refusal(parse_host_record, "{\"id\": "), Catch::Contains("host record: not JSON"));
  CHECK_THAT(refusal(parse_version_control, R"({"state":"paused","state":"pulled"})"),
             Catch::Contains("key 'state' appears twice"));
  CHECK_THAT(refusal(parse_outcome_record, ""), Catch::Contains("outcome record: not JSON"));
}

TEST_CASE("fleet records: writing one with invalid UTF-8 cannot fail", "[fleet_store]") {
  OutcomeRecord record = sample_outcome();
  record.checks[0].detail = "tool said \xff\xfe";
  auto back = require(parse_outcome_record(outcome_record_json(record)));
  CHECK(back.checks[0].detail == "tool said \xef\xbf\xbd\xef\xbf\xbd");  // U+FFFD twice
}

TEST_CASE("fleet records: outcome kinds and control states parse back from their names",
          "[fleet_store]") {
  for (auto kind : {OutcomeKind::committed, OutcomeKind::rolled_back}) {
    CHECK(require(parse_outcome_kind(outcome_kind_name(kind))) == kind);
  }
  for (auto state : {ControlState::halted, ControlState::paused, ControlState::pulled}) {
    CHECK(require(parse_control_state(control_state_name(state))) == state);
  }
  CHECK_FALSE(parse_outcome_kind("rolled_back").has_value());
  CHECK_FALSE(parse_control_state("").has_value());
}

TEST_CASE("a promotion record round-trips and is read strictly", "[fleet_store]") {
  PromotionRecord record{.from_channel = "staging",
                         .to_channel = "stable",
                         .by = "alice",
                         .forced = true,
                         .evidence = "1 staging hosts committed 1.0.1 (at least 3 needed)",
                         .at = "2026-12-03T22:00:00Z"};
  CHECK(require(parse_promotion_record(promotion_record_json(record))) == record);
  auto unknown = parse_promotion_record(
      R"({"from_channel":"a","to_channel":"b","by":"","forced":false,"evidence":"","at":"",)"
      R"("extra":1})");
  REQUIRE_FALSE(unknown);
  CHECK_THAT(unknown.error().message(), Catch::Contains("extra"));
  CHECK_FALSE(parse_promotion_record(R"({"from_channel":"a"})"));
}

TEST_CASE("a fleet lock's semaphore round-trips and is read strictly", "[fleet_store][lock]") {
  Semaphore semaphore{
      .max = 2, .holders = {{.id = "a", .since = "2026-12-04T05:00:00Z", .version = "1.0.1"}}};
  std::string text = semaphore_json(semaphore);
  CHECK(json::parse(text) == json::parse(R"({"max": 2, "holders": [
      {"id": "a", "since": "2026-12-04T05:00:00Z", "version": "1.0.1"}]})"));
  CHECK(require(parse_semaphore(text)) == semaphore);
  auto refused = [](const char* text) {
    auto parsed = parse_semaphore(text);
    REQUIRE_FALSE(parsed);
    return parsed.error().message();
  };
  CHECK_THAT(refused(R"({"max": 0, "holders": []})"), Catch::Contains("max"));
  CHECK_THAT(refused(R"({"max": 1.5, "holders": []})"), Catch::Contains("max"));
  CHECK_THAT(refused(R"({"max": -1, "holders": []})"), Catch::Contains("max"));
  CHECK_THAT(refused(R"({"holders": []})"), Catch::Contains("max"));
  CHECK_THAT(refused(R"({"max": 1, "holders": [], "owner": "x"})"), Catch::Contains("owner"));
  CHECK_THAT(refused(R"({"max": 2, "holders": [{"id": "a", "since": "", "version": ""},
                                               {"id": "a", "since": "", "version": ""}]})"),
             Catch::Contains("twice"));
  CHECK_THAT(refused(R"({"max": 1, "holders": [{"id": "", "since": "", "version": ""}]})"),
             Catch::Contains("id"));
}
