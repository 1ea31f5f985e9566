#include "fleet/channel_repo.hpp"

#include <catch2/catch.hpp>
#include <map>

#include "common/bundle_writer.hpp"
#include "common/hash.hpp"
#include "fleet/index_files.hpp"
#include "unit/common/bundle_pki.hpp"
#include "unit/fleet/sample_bundle.hpp"
#include "unit/fleet/sample_index.hpp"

using namespace cairn;
using namespace cairn::fleet;
using namespace cairn::fleet::testing;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// (Not `at`: its REQUIRE cannot run before Catch does.)
const TimePoint kNow = parse_time("2026-12-03T21:00:00Z").value();

// A repository to publish into, the PKI of its bundles and index, and bundles of image "t".
// One PKI for all the cases (RSA keys take a while to make); each case has its own repository.
const cairn::testing::BundlePki& shared_pki() {
  static const cairn::testing::BundlePki pki;
  return pki;
}

struct Fixture {
  const cairn::testing::BundlePki& pki = shared_pki();
  CmsSigner signer = pki.signer();
  CmsVerifier trust = pki.verifier();
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-channel-repo-").value();
  fs::path repo = dir.path() / "repo";

  // Version `version` of image "t" for x86_64-t, signed by `by` (the fixture's key by default);
  // `root` varies the bytes.
  fs::path bundle(const std::string& version, Signer* by = nullptr,
                  const std::string& root = "root bytes") {
    fs::path work = dir.path() / ("work-" + version + "-" + std::to_string(++made_));
    return write_sample_bundle(work, "t", version, by ? *by : signer, root);
  }

  Expected<PublishResult> publish(const fs::path& bundle, TimePoint now = kNow,
                                  const std::string& channel = "stable") {
    return publish_bundle({.repo = repo, .channel = channel, .bundle = bundle, .now = now}, signer,
                          trust);
  }

 private:
  int made_ = 0;
};

// Every file and directory below `root` with its contents: what "left as it was" compares.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  std::error_code ec;
  if (!fs::exists(root, ec)) return files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    std::string name = fs::relative(entry.path(), root).string();
    files[name] = entry.is_directory() ? "<dir>" : read_file(entry.path()).value();
  }
  return files;
}

}  // namespace

TEST_CASE("publishing adds entries and raises the serial", "[channel_repo]") {
  Fixture f;
  auto first = f.publish(f.bundle("2.0"));
  REQUIRE(first.has_value());
  CHECK(first->index.serial == 1);
  CHECK(first->index.expires == kNow + kDefaultIndexLifetime);
  CHECK(first->bundle_copied);
  CHECK_FALSE(first->replaced);
  const ChannelEntry& entry = first->entry;
  CHECK(entry.version == "2.0");
  CHECK(entry.security_version == 2);
  CHECK(entry.machine_class == "x86_64-t");
  CHECK(entry.bundle.path == "bundles/t_2.0.cairnb");
  CHECK(entry.bundle.size == fs::file_size(f.repo / entry.bundle.path));
  CHECK(entry.bundle.sha256 == to_hex(sha256_file(f.repo / entry.bundle.path).value()));
  CHECK(entry.rollout.start == kNow);
  CHECK(entry.rollout.waves == std::vector<Wave>{{1.0, 0s}});
  CHECK(entry.rollout.max_failures == 1);
  // What a host fetches verifies as the host checks it.
  ChannelFiles files = channel_files(f.repo, "stable");
  CHECK(files.index == f.repo / "channels/stable.json");
  auto fetched =
      verify_channel_index(read_file(files.index).value(), read_file(files.signature).value(),
                           f.trust, {.now = kNow + 1h, .channel = "stable", .last_serial = 1});
  REQUIRE(fetched.has_value());
  CHECK(*fetched == first->index);

  auto second = f.publish(f.bundle("2.1"), kNow + 1h);
  REQUIRE(second.has_value());
  CHECK(second->index.serial == 2);
  REQUIRE(second->index.entries.size() == 2);
  CHECK(second->index.entries[0].version == "2.0");
  CHECK(second->index.entries[1].version == "2.1");
  CHECK(read_channel(f.repo, "stable", f.trust).value() == second->index);
  // Only the published files: no temporary file left.
  CHECK(snapshot(f.repo).size() == 6);  // 2 directories, 2 bundles, the index and its signature
}

TEST_CASE("publishing a version again replaces its entry", "[channel_repo]") {
  Fixture f;
  fs::path bundle = f.bundle("2.0");
  REQUIRE(f.publish(bundle));
  auto again = publish_bundle({.repo = f.repo,
                               .channel = "stable",
                               .bundle = bundle,
                               .rollout = {.waves = {{0.5, 0s}, {1.0, 2h}}, .max_failures = 4},
                               .state = EntryState::paused,
                               .expires_in = 24h,
                               .now = kNow + 1h},
                              f.signer, f.trust);
  REQUIRE(again.has_value());
  CHECK(again->replaced);
  CHECK_FALSE(again->bundle_copied);  // the identical file is there already
  CHECK(again->index.serial == 2);
  CHECK(again->index.expires == kNow + 1h + 24h);
  REQUIRE(again->index.entries.size() == 1);
  CHECK(again->index.entries[0].state == EntryState::paused);
  CHECK(again->index.entries[0].rollout.max_failures == 4);
  CHECK(again->index.entries[0].rollout.start == kNow + 1h);

  // The same name with other bytes: a published bundle is never replaced.
  auto before = snapshot(f.repo);
  auto other = f.publish(f.bundle("2.0", nullptr, "other root bytes"));
  REQUIRE_FALSE(other.has_value());
  CHECK_THAT(other.error().describe(), Catch::Contains("published already with other contents"));
  CHECK(snapshot(f.repo) == before);
}

TEST_CASE("a bundle the hosts would refuse is not published", "[channel_repo]") {
  Fixture f;
  cairn::testing::BundlePki stranger;
  CmsSigner stranger_signer = stranger.signer();
  SECTION("into a new repository: none is created") {
    auto result = f.publish(f.bundle("2.0", &stranger_signer));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code() == Errc::crypto);
    CHECK_FALSE(fs::exists(f.repo));
  }
  SECTION("into an existing one: it is left as it was") {
    REQUIRE(f.publish(f.bundle("2.0")));
    auto before = snapshot(f.repo);
    auto result = f.publish(f.bundle("2.1", &stranger_signer));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code() == Errc::crypto);
    CHECK(snapshot(f.repo) == before);
  }
  SECTION("an index signed by a key the hosts do not trust") {
    auto result = publish_bundle(
        {.repo = f.repo, .channel = "stable", .bundle = f.bundle("2.0"), .now = kNow},
        stranger_signer, f.trust);
    REQUIRE_FALSE(result.has_value());
    CHECK_THAT(result.error().describe(), Catch::Contains("checking the new index as hosts will"));
    CHECK_FALSE(fs::exists(f.repo));
  }
  SECTION("a bad request") {
    fs::path bundle = f.bundle("2.0");
    CHECK_FALSE(f.publish(bundle, kNow, "Stable"));
    CHECK_FALSE(publish_bundle({.repo = f.repo,
                                .channel = "stable",
                                .bundle = bundle,
                                .rollout = {.waves = {{0.5, 1h}, {0.4, 2h}}},
                                .now = kNow},
                               f.signer, f.trust));
    CHECK_FALSE(publish_bundle(
        {.repo = f.repo, .channel = "stable", .bundle = bundle, .expires_in = 0s, .now = kNow},
        f.signer, f.trust));
    CHECK_FALSE(f.publish(f.dir.path() / "missing.cairnb"));
    CHECK_FALSE(fs::exists(f.repo));
  }
}

TEST_CASE("an index that does not verify is not re-signed", "[channel_repo]") {
  Fixture f;
  REQUIRE(f.publish(f.bundle("2.0")));
  ChannelFiles files = channel_files(f.repo, "stable");
  std::string text = read_file(files.index).value();
  text[text.find("\"serial\": 1") + 10] = '7';
  REQUIRE(write_file_atomic(files.index, text));
  auto before = snapshot(f.repo);
  auto result = f.publish(f.bundle("2.1"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::integrity);
  CHECK_THAT(result.error().describe(), Catch::Contains("is not re-signed blindly"));
  CHECK(snapshot(f.repo) == before);
  CHECK_FALSE(read_channel(f.repo, "stable", f.trust));
  // Its signature gone: the same.
  fs::remove(files.signature);
  CHECK_THAT(f.publish(f.bundle("2.1")).error().describe(), Catch::Contains("is missing"));
}

TEST_CASE("a write cut short between its renames is finished by the next one", "[channel_repo]") {
  Fixture f;
  REQUIRE(f.publish(f.bundle("2.0")));
  ChannelFiles files = channel_files(f.repo, "stable");
  std::string old_index = read_file(files.index).value();
  REQUIRE(f.publish(f.bundle("2.1")));
  // The state a crash after the signature's rename leaves: new signature, old index, the new
  // index pending.
  fs::rename(files.index, f.repo / "channels/.stable.json.next");
  REQUIRE(write_file_atomic(files.index, old_index));
  CHECK_FALSE(read_channel(f.repo, "stable", f.trust));  // hosts refuse it meanwhile
  auto resigned = resign_channel(
      f.repo, "stable", [](ChannelIndex&) -> Status { return {}; }, f.signer, f.trust, kNow);
  REQUIRE(resigned.has_value());
  CHECK(resigned->serial == 3);
  CHECK(resigned->entries.size() == 2);
  CHECK_FALSE(fs::exists(f.repo / "channels/.stable.json.next"));
}

TEST_CASE("resign_channel changes, re-signs and promotes", "[channel_repo]") {
  Fixture f;
  auto staged = f.publish(f.bundle("2.0"), kNow, "staging");
  REQUIRE(staged.has_value());
  auto nothing = [](ChannelIndex&) -> Status { return {}; };
  CHECK(resign_channel(f.repo, "stable", nothing, f.signer, f.trust, kNow).error().code() ==
        Errc::not_found);

  // Promote: staging's entry copied into a new stable channel.
  auto stable = resign_channel(f.repo, "stable",
                               [&](ChannelIndex& index) -> Status {
                                 put_entry(index, staged->entry);
                                 return {};
                               },
                               f.signer, f.trust, kNow + 1h, {.create = true});
  REQUIRE(stable.has_value());
  CHECK(stable->serial == 1);
  CHECK(stable->entries == std::vector{staged->entry});

  // Pause it there; an expired index is still re-signed (by its owner, with a fresh expiry).
  TimePoint later = kNow + 30 * 24h;
  auto paused = resign_channel(
      f.repo, "stable",
      [](ChannelIndex& index) -> Status {
        ChannelEntry* entry = find_entry(index, "2.0", "x86_64-t");
        if (!entry) return fail(Errc::not_found, "no 2.0");
        entry->state = EntryState::paused;
        return {};
      },
      f.signer, f.trust, later);
  REQUIRE(paused.has_value());
  CHECK(paused->serial == 2);
  CHECK(paused->expires == later + kDefaultIndexLifetime);
  CHECK(paused->entries[0].state == EntryState::paused);

  // A change that fails, or breaks a rule, changes nothing.
  auto before = snapshot(f.repo);
  auto refused = resign_channel(
      f.repo, "stable", [](ChannelIndex&) -> Status { return fail(Errc::not_found, "no 9.9"); },
      f.signer, f.trust, later);
  CHECK_FALSE(refused);
  auto broken = resign_channel(
      f.repo, "stable",
      [](ChannelIndex& index) -> Status {
        index.entries[0].bundle.path = "/x";
        return {};
      },
      f.signer, f.trust, later);
  REQUIRE_FALSE(broken);
  CHECK_THAT(broken.error().describe(), Catch::Contains("must be relative"));
  CHECK(snapshot(f.repo) == before);
}

TEST_CASE("one publisher at a time", "[channel_repo]") {
  Fixture f;
  fs::path bundle = f.bundle("2.0");
  REQUIRE(f.publish(bundle));
  auto held = RepoLock::acquire(f.repo);
  REQUIRE(held.has_value());
  auto result = f.publish(bundle);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::busy);
}

TEST_CASE("wave lists as the command line writes them", "[channel_repo]") {
  auto waves = parse_wave_list("0.1:0s,0.5:1h,1:1d");
  REQUIRE(waves.has_value());
  CHECK(*waves == std::vector<Wave>{{0.1, 0s}, {0.5, 1h}, {1.0, 24h}});
  CHECK(format_wave_list(*waves) == "0.1:0s,0.5:1h,1:1d");
  CHECK(parse_wave_list("0.25:90").value() == std::vector<Wave>{{0.25, 90s}});
  for (const char* bad : {"", "1", "0.5:1h,", ",1:0s", "x:0s", "0.5:soon", "0:0s", "1.5:0s",
                          "0.5:1h,0.4:2h", "0.5:1h,1:1h", "0.5 :1h", "-0.5:0s"}) {
    INFO(bad);
    auto parsed = parse_wave_list(bad);
    REQUIRE_FALSE(parsed.has_value());
    CHECK(parsed.error().code() == Errc::invalid_input);
    CHECK_THAT(parsed.error().message(), Catch::StartsWith("waves '"));
  }
}
