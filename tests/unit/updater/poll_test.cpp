// The host agent's poll against fakes: a channel server that answers 304 when asked with the
// current ETag, a signature check that trusts one marker, a fleet store in memory, and an
// install that only records what it was asked.
#include "updater/poll.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "common/hash.hpp"
#include "unit/fleet/fake_fleet_store.hpp"

using namespace cairn;
using namespace cairn::updater;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

constexpr const char* kChannelUrl = "http://127.0.0.1:8080/repo/channels/stable.json";
const fleet::TimePoint kNow = std::chrono::sys_days{std::chrono::year{2026} / 12 / 3} + 21h;

std::string signature_of(std::string_view data) { return "signed:" + to_hex(sha256(data)); }

class MarkerVerifier final : public SignatureVerifier {
 public:
  Expected<SignerIdentity> verify(std::string_view data, std::string_view signature) override {
    if (signature != signature_of(data)) {
      return fail(Errc::crypto, "signer is not trusted (no chain to a trust anchor)");
    }
    return SignerIdentity{.subject = "CN=test"};
  }
};

// Serves documents by URL; a request with the current ETag gets 304.
class FakeChannelServer final : public DocumentFetcher {
 public:
  void publish(const fleet::ChannelIndex& index, bool sign = true) {
    std::string body = fleet::channel_index_json(index);
    documents[kChannelUrl] = body;
    documents[std::string(kChannelUrl) + ".sig"] = sign ? signature_of(body) : "forged";
    etag = "\"" + std::to_string(++version) + "\"";
  }
  Expected<FetchedDocument> get(const std::string& url, const std::string& if_none_match,
                                std::uint64_t) override {
    ++requests;
    if (down) return fail(Errc::unavailable, url + ": Connection refused");
    if (!documents.contains(url)) return fail(Errc::not_found, url + ": HTTP 404");
    bool is_index = url == kChannelUrl;
    if (is_index && !if_none_match.empty() && if_none_match == etag) {
      return FetchedDocument{.not_modified = true, .etag = etag};
    }
    return FetchedDocument{.body = documents[url], .etag = is_index ? etag : ""};
  }
  unsigned requests_sent() const override { return requests; }

  std::map<std::string, std::string> documents;
  std::string etag;
  unsigned version = 0;
  unsigned requests = 0;
  bool down = false;
};

fleet::ChannelEntry entry(std::string version, std::vector<fleet::Wave> waves = {{1.0, 0s}}) {
  return {.version = version,
          .security_version = 1,
          .machine_class = "x86_64-kvm",
          .bundle = {.path = "bundles/kvm-host_" + version + ".cairnb",
                     .size = 4096,
                     .sha256 = std::string(64, 'a')},
          .published = kNow - 1h,
          .rollout = {.start = kNow - 1h, .waves = std::move(waves), .max_failures = 3}};
}

fleet::ChannelIndex index_of(std::uint64_t serial, std::vector<fleet::ChannelEntry> entries) {
  return {.channel = "stable",
          .serial = serial,
          .expires = kNow + 24h * 7,
          .entries = std::move(entries)};
}

struct Installed {
  std::string url;
  SourceOptions options;
};

struct Poller {
  Poller() : dir(*TempDir::create(fs::temp_directory_path(), "cairn-poll-")) {
    config.channel = kChannelUrl;
    facts = {.machine_id = std::string(32, '1'),
             .machine_class = "x86_64-kvm",
             .running_version = "1.0.0"};
  }
  Expected<PollResult> poll() {
    PollSeams seams{.fetcher = server,
                    .verifier = verifier,
                    .store = with_store ? &store : nullptr,
                    .now = [this] { return now; },
                    .local_minute_of_day = [this] { return minute; },
                    .install = [this](const std::string& url,
                                      SourceOptions options) -> Expected<InstallResult> {
                      installs.push_back({url, options});
                      if (install_error) return std::unexpected(*install_error);
                      return InstallResult{.slot = 'B', .version = "?"};
                    },
                    .reboot = [this]() -> Status {
                      ++reboots;
                      return {};
                    }};
    if (gate) {
      seams.pass_gate = [this](const std::string& version,
                               RebootKind kind) -> Expected<GateResult> {
        gate_asks.push_back({version, kind});
        return *gate;
      };
    }
    auto state = load_poll_state(dir.path());
    REQUIRE(state);
    auto result = poll_channel(config, dir.path(), facts, seams, *state);
    REQUIRE(save_poll_state(dir.path(), *state));
    return result;
  }

  TempDir dir;
  FleetConfig config;
  PollFacts facts;
  FakeChannelServer server;
  MarkerVerifier verifier;
  fleet::testing::FakeFleetStore store;
  bool with_store = true;
  fleet::TimePoint now = kNow;
  int minute = 12 * 60;
  std::vector<Installed> installs;
  std::optional<Error> install_error;
  unsigned reboots = 0;
  std::optional<Expected<GateResult>> gate;  // none: no gate
  std::vector<std::pair<std::string, RebootKind>> gate_asks;
};

}  // namespace

TEST_CASE("a channel URL names the channel and the repository's root", "[poll]") {
  auto url = parse_channel_url("https://cdn.example/fleet/channels/stable.json");
  REQUIRE(url);
  CHECK(url->name == "stable");
  CHECK(url->root == "https://cdn.example/fleet/");
  CHECK_FALSE(parse_channel_url("https://cdn.example/fleet/stable.json"));
  CHECK_FALSE(parse_channel_url("https://cdn.example/channels/.json"));
}

TEST_CASE("a poll that finds nothing new asks once and gets 304", "[poll]") {
  Poller poller;
  poller.server.publish(index_of(1, {entry("1.0.0")}));
  auto first = poller.poll();
  REQUIRE(first);
  CHECK_THAT(first->message, Catch::Contains("up to date"));
  CHECK(poller.server.requests == 2);  // the index and its signature
  auto second = poller.poll();
  REQUIRE(second);
  CHECK_THAT(second->message, Catch::Contains("up to date"));
  CHECK(poller.server.requests == 3);  // one conditional request, answered 304
  CHECK(poller.store.requests == 0);   // nothing to install: the store is not asked
  CHECK(poller.installs.empty());
}

TEST_CASE("an eligible update installs with the index's size and digest", "[poll]") {
  Poller poller;
  poller.server.publish(index_of(1, {entry("1.0.0"), entry("1.0.1")}));
  SECTION("reboot = manual: installed, no reboot") {
    auto result = poller.poll();
    REQUIRE(result);
    REQUIRE(poller.installs.size() == 1);
    const Installed& installed = poller.installs.front();
    CHECK(installed.url == "http://127.0.0.1:8080/repo/bundles/kvm-host_1.0.1.cairnb");
    CHECK(installed.options.expected_size == 4096);
    CHECK(installed.options.expected_sha256 == std::string(64, 'a'));
    CHECK(installed.options.same_scheme_redirects);
    CHECK(result->installed == "1.0.1");
    CHECK_FALSE(result->rebooting);
    CHECK(poller.reboots == 0);
    CHECK_THAT(result->message, Catch::Contains("reboot to try it"));
    auto state = load_poll_state(poller.dir.path());
    REQUIRE(state);
    REQUIRE(state->adopted);
    CHECK(state->adopted->version == "1.0.1");
    CHECK(state->adopted->max_failures == 3);
    CHECK(state->last_serial == 1);
  }
  SECTION("reboot = now") {
    poller.config.reboot = RebootPolicy::now;
    auto result = poller.poll();
    REQUIRE(result);
    CHECK(result->rebooting);
    CHECK(poller.reboots == 1);
  }
  SECTION("a failed install is the poll's error, and no reboot") {
    poller.config.reboot = RebootPolicy::now;
    poller.install_error = Error(Errc::integrity, "the bundle's sha256 differs");
    auto result = poller.poll();
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("sha256 differs"));
    CHECK(poller.reboots == 0);
  }
}

TEST_CASE("the wave decides when a host takes a version", "[poll]") {
  Poller poller;
  double bucket = fleet::host_bucket(poller.facts.machine_id, "1.0.1");
  // The rollout started an hour ago: one wave below this host's bucket, the next one taking
  // everyone two hours after the start (an hour from now).
  poller.server.publish(
      index_of(1, {entry("1.0.1", {{std::max(bucket / 2, 1e-9), 0s}, {1.0, 7200s}})}));
  auto early = poller.poll();
  REQUIRE(early);
  CHECK_THAT(early->message, Catch::Contains("waiting for its wave"));
  CHECK_THAT(early->message, Catch::Contains("eligible at " + fleet::format_time(kNow + 1h)));
  CHECK(poller.installs.empty());
  poller.now = kNow + 1h;
  auto later = poller.poll();
  REQUIRE(later);
  CHECK(later->installed == "1.0.1");
}

TEST_CASE("versions stopped by the fleet store or rolled back here are skipped", "[poll]") {
  Poller poller;
  poller.server.publish(index_of(1, {entry("1.0.1"), entry("1.0.2")}));
  SECTION("halted newest: the older one is taken") {
    poller.store.control_records["1.0.2"] = {.state = fleet::ControlState::halted,
                                             .reason = "3 hosts rolled back"};
    auto result = poller.poll();
    REQUIRE(result);
    CHECK(result->installed == "1.0.1");
  }
  SECTION("both stopped: nothing, and the message says why") {
    poller.store.control_records["1.0.2"] = {.state = fleet::ControlState::paused};
    poller.facts.rolled_back = {"1.0.1"};
    auto result = poller.poll();
    REQUIRE(result);
    CHECK(poller.installs.empty());
    CHECK_THAT(result->message, Catch::Contains("1.0.2 paused"));
    CHECK_THAT(result->message, Catch::Contains("1.0.1 rolled back on this host"));
  }
  SECTION("an unreachable store: no install starts") {
    poller.store.unreachable = true;
    auto result = poller.poll();
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("not starting 1.0.2"));
    CHECK(poller.installs.empty());
  }
  SECTION("no store configured: the host updates alone") {
    poller.with_store = false;
    poller.store.control_records["1.0.2"] = {.state = fleet::ControlState::halted};
    auto result = poller.poll();
    REQUIRE(result);
    CHECK(result->installed == "1.0.2");
  }
}

TEST_CASE("an index that is not believed installs nothing", "[poll]") {
  Poller poller;
  poller.server.publish(index_of(5, {entry("1.0.0")}));
  REQUIRE(poller.poll());
  SECTION("replayed: an older serial") {
    poller.server.publish(index_of(4, {entry("1.0.1")}));
    auto result = poller.poll();
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("replayed"));
  }
  SECTION("expired") {
    poller.now = kNow + 24h * 8;
    auto result = poller.poll();  // 304: the cached index, checked again
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("expired"));
  }
  SECTION("signed by someone else") {
    poller.server.publish(index_of(6, {entry("1.0.1")}), /*sign=*/false);
    auto result = poller.poll();
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("not trusted"));
    // The cached index is still the believed one.
    auto state = load_poll_state(poller.dir.path());
    CHECK(state->last_serial == 5);
  }
  SECTION("the channel server is down") {
    poller.server.down = true;
    auto result = poller.poll();
    REQUIRE_FALSE(result);
    CHECK_THAT(result.error().message(), Catch::Contains("Connection refused"));
  }
  CHECK(poller.installs.empty());
}

TEST_CASE("an installed update waits for its reboot policy", "[poll]") {
  Poller poller;
  poller.server.publish(index_of(1, {entry("1.0.1")}));
  poller.facts.state = {.pending = PendingSlot{.slot = 'B', .version = "1.0.1"},
                        .phase = Phase::installed};
  poller.config.reboot = RebootPolicy::window;
  poller.config.window_start = 2 * 60;
  poller.config.window_end = 4 * 60;
  auto outside = poller.poll();
  REQUIRE(outside);
  CHECK(poller.reboots == 0);
  CHECK_THAT(outside->message, Catch::Contains("reboots in the window 02:00-04:00"));
  poller.minute = 3 * 60;
  auto inside = poller.poll();
  REQUIRE(inside);
  CHECK(inside->rebooting);
  CHECK(poller.reboots == 1);
  CHECK(poller.installs.empty());
}

TEST_CASE("an installed update stopped since is not rebooted into", "[poll]") {
  Poller poller;
  poller.server.publish(index_of(1, {entry("1.0.1")}));
  poller.facts.state = {.pending = PendingSlot{.slot = 'B', .version = "1.0.1"},
                        .phase = Phase::installed};
  poller.config.reboot = RebootPolicy::now;
  poller.store.control_records["1.0.1"] = {.state = fleet::ControlState::halted,
                                           .reason = "3 hosts rolled back"};
  auto halted = poller.poll();
  REQUIRE(halted);
  CHECK(poller.reboots == 0);
  CHECK_THAT(halted->message, Catch::Contains("not rebooting into it: it is halted"));
  poller.store.unreachable = true;
  CHECK_FALSE(poller.poll());
  CHECK(poller.reboots == 0);
  poller.store.unreachable = false;
  poller.store.control_records.clear();
  auto go = poller.poll();
  REQUIRE(go);
  CHECK(poller.reboots == 1);
}

TEST_CASE("an update under way is left alone", "[poll]") {
  Poller poller;
  poller.server.publish(index_of(1, {entry("1.0.2")}));
  poller.facts.state = {.pending = PendingSlot{.slot = 'B', .version = "1.0.1"},
                        .phase = Phase::observing};
  auto result = poller.poll();
  REQUIRE(result);
  CHECK_THAT(result->message, Catch::Contains("under way (observing)"));
  CHECK(poller.installs.empty());
}

TEST_CASE("a reboot the policy allows still waits for the reboot gate", "[poll][gate]") {
  Poller poller;
  poller.server.publish(index_of(1, {entry("1.0.1")}));
  poller.facts.state = {.pending = PendingSlot{.slot = 'B', .version = "1.0.1"},
                        .phase = Phase::installed};
  poller.config.reboot = RebootPolicy::now;

  poller.gate = GateResult{.message = "waiting for the fleet lock: held by bbbb"};
  auto waiting = poller.poll();
  REQUIRE(waiting);
  CHECK_FALSE(waiting->rebooting);
  CHECK(poller.reboots == 0);
  CHECK_THAT(waiting->message, Catch::Contains("waiting for the fleet lock: held by bbbb"));
  REQUIRE(poller.gate_asks.size() == 1);
  CHECK(poller.gate_asks[0] == std::pair{std::string("1.0.1"), RebootKind::update});

  // A lock that cannot be asked is the poll's error: no reboot (fail closed).
  poller.gate = std::unexpected(Error(Errc::unavailable, "not rebooting: etcd unreachable"));
  auto closed = poller.poll();
  REQUIRE_FALSE(closed);
  CHECK_THAT(closed.error().message(), Catch::Contains("etcd unreachable"));
  CHECK(poller.reboots == 0);

  poller.gate = GateResult{.open = true, .message = "moved web-1; rebooting"};
  auto open = poller.poll();
  REQUIRE(open);
  CHECK(open->rebooting);
  CHECK(poller.reboots == 1);
  CHECK_THAT(open->message, Catch::Contains("moved web-1"));
}

TEST_CASE("a fresh install passes the gate before its reboot", "[poll][gate]") {
  Poller poller;
  poller.server.publish(index_of(1, {entry("1.0.0"), entry("1.0.1")}));
  poller.config.reboot = RebootPolicy::now;
  poller.gate = GateResult{.message = "not rebooting: pre-reboot hook 10-drain failed: exit 3"};
  auto result = poller.poll();
  REQUIRE(result);
  CHECK(result->installed == "1.0.1");
  CHECK_FALSE(result->rebooting);
  CHECK(poller.reboots == 0);
  CHECK_THAT(result->message, Catch::Contains("10-drain failed"));
}

TEST_CASE("a failed window whose rollback reboot was held back tries the gate again",
          "[poll][gate]") {
  Poller poller;
  poller.server.publish(index_of(1, {entry("1.0.1")}));
  poller.facts.running_version = "1.0.1";
  poller.facts.other_version = "1.0.0";
  poller.facts.booted_slot = 'B';
  poller.facts.state = {
      .pending = PendingSlot{.slot = 'B', .version = "1.0.1", .failure = "health check x"},
      .phase = Phase::failed};
  poller.gate = GateResult{.message = "waiting for the fleet lock: full"};
  auto held = poller.poll();
  REQUIRE(held);
  CHECK_FALSE(held->rebooting);
  CHECK_THAT(held->message, Catch::Contains("1.0.1 failed (health check x), rolling back"));
  REQUIRE(poller.gate_asks.size() == 1);
  CHECK(poller.gate_asks[0].second == RebootKind::rollback);
  CHECK(poller.gate_asks[0].first == "1.0.0");  // the version the rollback boots
  poller.gate = GateResult{.open = true, .message = "rebooting"};
  auto rolled = poller.poll();
  REQUIRE(rolled);
  CHECK(rolled->rebooting);
  CHECK(poller.reboots == 1);
  CHECK(poller.installs.empty());
}
