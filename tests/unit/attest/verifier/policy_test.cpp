#include "attest/verifier/policy.hpp"

#include <catch2/catch.hpp>
#include <set>

#include "attest/token.hpp"
#include "attest/verifier/seams.hpp"
#include "common/eventlog.hpp"
#include "common/hash.hpp"
#include "unit/attest/soft_tpm.hpp"

using namespace cairn;
using namespace cairn::attest;
using namespace cairn::attest::verifier;
using namespace cairn::attest::testing;
namespace fw = cairn::tpm;
using namespace std::chrono_literals;

namespace {

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'750'000'000));

ImageVersion approved(const SoftImage& image, ImageState state = ImageState::approved) {
  auto version = make_image_version(image.golden(), state, 0);
  REQUIRE(version.has_value());
  return std::move(*version);
}

// One enrolled host with a booted soft TPM, one approved image and a fresh nonce for it.
struct World {
  SoftImage image = SoftImage::create("kvm-host", "1.0.0");
  SoftTpm tpm;
  std::vector<ImageVersion> images;
  HostRecord host;
  NonceRecord nonce;

  explicit World(const BootOptions& boot = {}, AkAlgorithm ak = AkAlgorithm::rsa) : tpm(0, ak) {
    tpm.boot(image, boot);
    images.push_back(approved(image));
    host = HostRecord{.name = "host-a",
                      .ek_public = tpm.ek_public(),
                      .ak_public = tpm.ak_public(),
                      .ak_name = tpm.ak_name(),
                      .enrolled_at = 1};
    nonce = NonceRecord{.nonce = Bytes(32, 0x5a),
                        .host = "host-a",
                        .issued_at = unix_seconds(kNow - 5s),
                        .expires_at = unix_seconds(kNow + 55s)};
  }

  QuoteSubmission submit(const QuoteOptions& options = {}) {
    return tpm.submission("host-a", nonce.nonce, options);
  }

  Verdict verify(const QuoteSubmission& submission, EVP_PKEY* token_key = nullptr) {
    return verify_quote(PolicyInput{.submission = &submission,
                                    .host = &host,
                                    .nonce = &nonce,
                                    .images = images,
                                    .now = kNow,
                                    .token_key = token_key});
  }
};

std::set<std::string> failed(const Verdict& verdict) {
  std::set<std::string> names;
  for (const auto& check : verdict.checks) {
    if (!check.passed) names.insert(check.name);
  }
  return names;
}

const CheckResult& find(const Verdict& verdict, std::string_view name) {
  for (const auto& check : verdict.checks) {
    if (check.name == name) return check;
  }
  FAIL("no check " << name);
  throw std::logic_error("unreachable");
}

// Denied, for exactly the named reasons (a check that should have passed did not fail too).
void require_denied(const Verdict& verdict, std::set<std::string> reasons) {
  for (const auto& check : verdict.checks) {
    INFO(check.name << (check.passed ? " passed: " : " FAILED: ") << check.detail);
    CHECK(check.passed != reasons.contains(check.name));
  }
  CHECK_FALSE(verdict.admitted);
  CHECK_FALSE(verdict.token.has_value());
  CHECK(failed(verdict) == reasons);
}

// The records of a log with their byte offsets (the next record starts where one ends).
std::vector<fw::Event> events_of(const Bytes& log) {
  auto parsed = fw::parse_event_log(log);
  REQUIRE(parsed.has_value());
  return parsed->events;
}

std::string encode(const Bytes& bytes) {
  return base64_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

}  // namespace

TEST_CASE("a quote of an approved boot is admitted with every check named", "[verifier][policy]") {
  World world;
  auto key = generate_token_key();
  REQUIRE(key.has_value());
  auto verdict = world.verify(world.submit(), key->get());
  for (const auto& check : verdict.checks) INFO(check.name << ": " << check.detail);
  REQUIRE(verdict.admitted);
  CHECK(failed(verdict).empty());
  CHECK(verdict.host == "host-a");
  CHECK(verdict.image_version == "kvm-host 1.0.0");
  std::set<std::string> names;
  for (const auto& check : verdict.checks) names.insert(check.name);
  for (auto id :
       {check::kSubmission,   check::kHostEnrolled,  check::kQuoteParse,   check::kMagic,
        check::kType,         check::kNonceGranted,  check::kNonceHost,    check::kNonceUnused,
        check::kNonceFresh,   check::kNonceBound,    check::kPcrSelection, check::kAkSignature,
        check::kPcrDigest,    check::kEventLogParse, check::kEventTypes,   check::kEventLogReplay,
        check::kUnloggedPcrs, check::kSystemdLog,    check::kPcr0NonZero,  check::kPcr4NonZero,
        check::kImageKnown,   check::kImageRevoked,  check::kBootChain,    check::kPcr11Sections,
        check::kPcr11Phase,   check::kSecureBoot,    check::kDbAuthority,  check::kPcr12,
        check::kPcr13,        check::kResetCount}) {
    CHECK(names.contains(std::string(id)));
  }
  CHECK_THAT(find(verdict, check::kPcr11Phase).detail, Catch::Contains("\"ready\""));

  REQUIRE(verdict.token.has_value());
  auto public_pem = public_key_pem(key->get());
  auto public_key = parse_public_key_pem(*public_pem);
  auto claims = verify_token(*verdict.token, public_key->get(),
                             "6c3b2a7e-8f0d-4c1e-9a55-2f6e1d0b9c47", kNow + 1s);
  REQUIRE(claims.has_value());
  CHECK(claims->host == "host-a");
  CHECK(claims->image == "kvm-host 1.0.0");
  CHECK(claims->reset_count == world.tpm.reset_count());
  CHECK(claims->expires_at - claims->issued_at == kTokenLifetime.count());
  CHECK_FALSE(verify_token(*verdict.token, public_key->get(), "another-boot", kNow + 1s));

  auto clock = quote_clock(world.submit());
  REQUIRE(clock.has_value());
  CHECK(clock->reset_count == world.tpm.reset_count());
}

TEST_CASE("without a token key a pass carries no token", "[verifier][policy]") {
  World world;
  auto verdict = world.verify(world.submit());
  CHECK(verdict.admitted);
  CHECK_FALSE(verdict.token.has_value());
}

TEST_CASE("PCR 11 may show the sysinit or the ready phase, not an earlier one",
          "[verifier][policy]") {
  World sysinit({.phase = "sysinit"});
  auto verdict = sysinit.verify(sysinit.submit());
  CHECK(verdict.admitted);
  CHECK_THAT(find(verdict, check::kPcr11Phase).detail, Catch::Contains("\"sysinit\""));

  World initrd({.phase = "leave-initrd"});
  require_denied(initrd.verify(initrd.submit()), {"pcr11-phase"});
}

TEST_CASE("a StartupLocality event in the log still replays", "[verifier][policy]") {
  World world({.startup_locality = 3});
  CHECK(world.verify(world.submit()).admitted);
}

TEST_CASE("failed checks come first", "[verifier][policy]") {
  World world;
  world.nonce.used = true;
  auto verdict = world.verify(world.submit());
  REQUIRE_FALSE(verdict.checks.empty());
  CHECK(verdict.checks.front().name == "nonce-unused");
  CHECK_FALSE(verdict.checks.front().passed);
  CHECK(std::is_partitioned(verdict.checks.begin(), verdict.checks.end(),
                            [](const CheckResult& r) { return !r.passed; }));
}

TEST_CASE("nonce attacks are denied by name", "[verifier][policy]") {
  World world;
  SECTION("replayed") {
    world.nonce.used = true;
    auto verdict = world.verify(world.submit());
    require_denied(verdict, {"nonce-unused"});
    CHECK_THAT(find(verdict, check::kNonceUnused).detail, Catch::Contains("replay"));
  }
  SECTION("expired") {
    world.nonce.expires_at = unix_seconds(kNow);
    require_denied(world.verify(world.submit()), {"nonce-fresh"});
  }
  SECTION("granted to another host") {
    world.nonce.host = "host-b";
    auto verdict = world.verify(world.submit());
    require_denied(verdict, {"nonce-host"});
    CHECK_THAT(find(verdict, check::kNonceHost).detail, Catch::Contains("host-b"));
  }
  SECTION("never granted") {
    auto submission = world.submit();
    auto verdict = verify_quote(PolicyInput{.submission = &submission,
                                            .host = &world.host,
                                            .nonce = nullptr,
                                            .images = world.images,
                                            .now = kNow});
    require_denied(verdict, {"nonce-granted", "nonce-host", "nonce-unused", "nonce-fresh"});
    CHECK_THAT(find(verdict, check::kNonceHost).detail, Catch::StartsWith("not checked"));
  }
  SECTION("quoted with another nonce than the one submitted") {
    auto submission = world.tpm.submission("host-a", Bytes(32, 0x77));
    submission.nonce = encode(world.nonce.nonce);
    require_denied(world.verify(submission), {"nonce-bound"});
  }
}

TEST_CASE("a quote signed by another TPM's AK is denied", "[verifier][policy]") {
  World world;
  SoftTpm other(1);
  other.boot(world.image);
  auto verdict = world.verify(other.submission("host-a", world.nonce.nonce));
  require_denied(verdict, {"ak-signature"});
}

TEST_CASE("a quote by an ECC P-256 AK is admitted, and denied when another key signed it",
          "[verifier][policy]") {
  World world({}, AkAlgorithm::ecc);
  auto verdict = world.verify(world.submit());
  for (const auto& check : verdict.checks) INFO(check.name << ": " << check.detail);
  CHECK(verdict.admitted);
  SoftTpm other(1, AkAlgorithm::ecc);
  other.boot(world.image);
  require_denied(world.verify(other.submission("host-a", world.nonce.nonce)), {"ak-signature"});
}

TEST_CASE("a host that is not enrolled is denied", "[verifier][policy]") {
  World world;
  auto submission = world.submit();
  submission.host = "stranger";
  world.nonce.host = "stranger";
  require_denied(world.verify(submission), {"host-enrolled", "ak-signature"});
}

TEST_CASE("an edited event log is denied", "[verifier][policy]") {
  World world;
  auto log = world.tpm.event_log();
  auto events = events_of(log);
  SECTION("an event's digest changed") {
    auto boot_variable = std::find_if(events.begin(), events.end(), [](const fw::Event& e) {
      return e.pcr == 1 && e.type == fw::kEvEfiVariableBoot;
    });
    REQUIRE(boot_variable != events.end());
    log[boot_variable->offset + 14] ^= 0xff;  // PCR, type, count, algorithm, then the digest
  }
  SECTION("an event dropped") {
    auto driver = std::find_if(events.begin(), events.end(), [](const fw::Event& e) {
      return e.pcr == 2 && e.type == fw::kEvEfiBootServicesDriver;
    });
    REQUIRE(driver != events.end());
    std::size_t size = 4 + 4 + 4 + 2 + 32 + 4 + driver->data.size();
    log.erase(log.begin() + static_cast<long>(driver->offset),
              log.begin() + static_cast<long>(driver->offset + size));
  }
  auto submission = world.submit();
  submission.event_log = encode(log);
  auto verdict = world.verify(submission);
  require_denied(verdict, {"event-log-replay"});
}

TEST_CASE("event data that does not hash to its digest does not count", "[verifier][policy]") {
  // Secure Boot off, then the log's SecureBoot byte flipped to 1: the digests still replay,
  // only the data lies.
  World world({.secure_boot = false});
  auto log = world.tpm.event_log();
  bool flipped = false;
  for (const auto& event : events_of(log)) {
    if (event.pcr != 7 || event.type != fw::kEvEfiVariableDriverConfig) continue;
    if (event.data.size() == 32 + 2 * 10 + 1 && event.data[32] == 'S') {
      log[event.offset + 50 + event.data.size() - 1] = 1;
      flipped = true;
    }
  }
  REQUIRE(flipped);
  auto submission = world.submit();
  submission.event_log = encode(log);
  auto verdict = world.verify(submission);
  require_denied(verdict, {"secure-boot"});
  CHECK_THAT(find(verdict, check::kSecureBoot).detail, Catch::Contains("does not hash"));
}

TEST_CASE("submitted PCR values that the quote did not sign are denied", "[verifier][policy]") {
  World world({.cmdline_override = "init=/bin/sh"});
  auto submission = world.submit();
  submission.pcrs[12] = world.image.golden().pcr12;  // hide the override
  auto verdict = world.verify(submission);
  CHECK(failed(verdict).contains("pcr-digest"));
  CHECK(failed(verdict).contains("event-log-replay"));
  CHECK_FALSE(verdict.admitted);
}

TEST_CASE("a PCR selection other than the requested one is denied", "[verifier][policy]") {
  World world;
  SECTION("a PCR left out") {
    QuoteOptions options;
    options.pcrs.pop_back();  // PCR 15
    auto verdict = world.verify(world.submit(options));
    require_denied(verdict, {"pcr-selection"});
    CHECK_THAT(find(verdict, check::kPcrSelection).detail, Catch::Contains("14,15"));
  }
  SECTION("the SHA-1 bank") {
    require_denied(world.verify(world.submit({.bank = 0x0004})), {"pcr-selection", "pcr-digest"});
  }
}

TEST_CASE("a boot of an unapproved or revoked version is denied", "[verifier][policy]") {
  World world;
  SECTION("unapproved: no version has this UKI") {
    world.images = {approved(world.image.next("2.0.0"))};
    auto verdict = world.verify(world.submit());
    CHECK(failed(verdict).contains("image-known"));
    CHECK_FALSE(verdict.admitted);
    CHECK_FALSE(verdict.image_version.has_value());
    CHECK_THAT(find(verdict, check::kPcr12).detail, Catch::StartsWith("not checked"));
  }
  SECTION("revoked") {
    world.images = {approved(world.image, ImageState::revoked),
                    approved(world.image.next("2.0.0"))};
    auto verdict = world.verify(world.submit());
    require_denied(verdict, {"image-not-revoked"});
    CHECK_THAT(find(verdict, check::kImageRevoked).detail, Catch::Contains("revoked"));
  }
  SECTION("revoked, and the only version loaded") {
    world.images = {approved(world.image, ImageState::revoked)};
    require_denied(world.verify(world.submit()), {"image-not-revoked"});
  }
}

TEST_CASE("the UKI decides the version, systemd-boot may be any approved version's",
          "[verifier][policy]") {
  World world;
  auto update = world.image.next("1.1.0");
  auto other = SoftImage::create("other-host", "9.0");
  world.images = {approved(world.image), approved(update), approved(other)};
  SECTION("the update boots") {
    SoftTpm tpm;
    tpm.boot(update);
    auto verdict = world.verify(tpm.submission("host-a", world.nonce.nonce));
    CHECK(verdict.admitted);
    CHECK(verdict.image_version == "kvm-host 1.1.0");
  }
  SECTION("another approved version's systemd-boot") {
    auto mixed = world.image.next("1.0.0");
    mixed.systemd_boot_authenticode = other.systemd_boot_authenticode;
    SoftTpm tpm;
    tpm.boot(mixed);
    CHECK(world.verify(tpm.submission("host-a", world.nonce.nonce)).admitted);
  }
  SECTION("an unknown systemd-boot") {
    auto mixed = world.image.next("1.0.0");
    mixed.systemd_boot_authenticode = Bytes(32, 0xee);
    SoftTpm tpm;
    tpm.boot(mixed);
    auto verdict = world.verify(tpm.submission("host-a", world.nonce.nonce));
    require_denied(verdict, {"pcr4-boot-chain"});
    CHECK_THAT(find(verdict, check::kBootChain).detail, Catch::Contains(std::string(64, 'e')));
  }
}

TEST_CASE("a kernel command line override is denied through PCR 12", "[verifier][policy]") {
  World world({.cmdline_override = "root=PARTUUID=a ro verity=1 init=/bin/sh"});
  auto verdict = world.verify(world.submit());
  require_denied(verdict, {"pcr12"});
  CHECK_THAT(find(verdict, check::kPcr12).detail, Catch::Contains(world.image.golden().pcr12));
}

TEST_CASE("PCR 13 must stay zero", "[verifier][policy]") {
  World world;
  SECTION("a logged system extension") {
    world.tpm.log_data(13, fw::kEvIpl, bytes_of("sysext"));
    require_denied(world.verify(world.submit()), {"pcr13"});
  }
  SECTION("extended outside the log") {
    world.tpm.extend(13, Bytes(32, 1));
    require_denied(world.verify(world.submit()), {"pcr13", "unlogged-pcrs-zero"});
  }
}

TEST_CASE("a wrong TPMS_ATTEST magic or type is denied", "[verifier][policy]") {
  World world;
  SECTION("magic") {
    auto verdict = world.verify(world.submit({.magic = 0xff544348}));
    require_denied(verdict, {"magic"});
    CHECK_THAT(find(verdict, check::kMagic).detail, Catch::Contains("0xff544348"));
  }
  SECTION("type") {
    // tss2-mu reads a certify body for 0x8017, so the quote no longer parses; the header still
    // names the type.
    auto verdict = world.verify(world.submit({.type = 0x8017}));
    CHECK(failed(verdict).contains("type"));
    CHECK(failed(verdict).contains("quote-parse"));
    CHECK_FALSE(failed(verdict).contains("magic"));
    CHECK_THAT(find(verdict, check::kType).detail, Catch::StartsWith("0x8017"));
    CHECK_FALSE(verdict.admitted);
  }
}

TEST_CASE("Secure Boot off or another db authority is denied", "[verifier][policy]") {
  SECTION("Secure Boot off") {
    World world({.secure_boot = false});
    auto verdict = world.verify(world.submit());
    require_denied(verdict, {"secure-boot"});
    CHECK_THAT(find(verdict, check::kSecureBoot).detail, Catch::Contains("SecureBoot = 00"));
  }
  SECTION("no db authority logged") {
    World world({.db_authority = false});
    require_denied(world.verify(world.submit()), {"db-authority"});
  }
  SECTION("the version expects another db certificate") {
    World world;
    auto golden = world.image.golden();
    auto other = SoftImage::create("signed-elsewhere", "1");
    auto other_golden = other.golden();
    golden.secure_boot_db_pem = other_golden.secure_boot_db_pem;
    golden.secure_boot_db_sha256 = other_golden.secure_boot_db_sha256;
    auto version = make_image_version(golden, ImageState::approved, 0);
    REQUIRE(version.has_value());
    world.images = {std::move(*version)};
    require_denied(world.verify(world.submit()), {"db-authority"});
  }
  SECTION("a certificate that carries the db certificate inside it") {
    // Another certificate with Cairn's DER embedded (in an extension, say): a substring match
    // used to admit it.
    auto der = SoftImage::create("kvm-host", "1.0.0").db_der();
    for (auto [prefix, suffix] :
         {std::pair{Bytes{0x30, 0x82}, Bytes{}}, std::pair{Bytes{}, Bytes{0x04, 0x00}},
          std::pair{Bytes(40, 0x13), Bytes(40, 0x14)}}) {
      Bytes data(16, 0x42);
      data.insert(data.end(), prefix.begin(), prefix.end());
      data.insert(data.end(), der.begin(), der.end());
      data.insert(data.end(), suffix.begin(), suffix.end());
      World world({.db_authority_data = data});
      require_denied(world.verify(world.submit()), {"db-authority"});
    }
  }
  SECTION("the owner GUID, where the measurements set it") {
    auto with_owner = [](World& world, std::string owner) {
      auto golden = world.image.golden();
      golden.secure_boot_db_owner = std::move(owner);
      world.images = {make_image_version(golden, ImageState::approved, 0).value()};
    };
    World same;  // SoftTpm logs owner 42424242-…
    with_owner(same, "42424242-4242-4242-4242-424242424242");
    auto verdict = same.verify(same.submit());
    for (const auto& check : verdict.checks) INFO(check.name << ": " << check.detail);
    CHECK(verdict.admitted);
    World other;
    with_owner(other, std::string(kCairnSignatureOwner));
    require_denied(other.verify(other.submit()), {"db-authority"});
  }
}

TEST_CASE("an event of an unknown type in an attested PCR is denied", "[verifier][policy]") {
  World world({.unknown_event = true});
  auto verdict = world.verify(world.submit());
  require_denied(verdict, {"event-types-known"});
  CHECK_THAT(find(verdict, check::kEventTypes).detail, Catch::Contains("0x0000ffff"));
}

TEST_CASE("the TPM's reset counter and clock must not go back", "[verifier][policy]") {
  World world;
  auto reset = world.tpm.reset_count();
  SECTION("an older boot") {
    world.host.last_reset_count = reset + 1;
    world.host.last_clock = 5;
    require_denied(world.verify(world.submit()), {"reset-count"});
  }
  SECTION("the same boot, an earlier clock") {
    world.host.last_reset_count = reset;
    world.host.last_clock = world.tpm.clock() + 1'000'000;
    require_denied(world.verify(world.submit()), {"reset-count"});
  }
  SECTION("the same boot, later") {
    world.host.last_reset_count = reset;
    world.host.last_clock = world.tpm.clock();
    CHECK(world.verify(world.submit()).admitted);
  }
  SECTION("a later boot with a smaller clock") {
    world.host.last_reset_count = reset - 1;
    world.host.last_clock = 1'000'000'000;
    CHECK(world.verify(world.submit()).admitted);
  }
}

TEST_CASE("a host that measured nothing is denied with PCR 0 and 4 zero", "[verifier][policy]") {
  World world;
  world.tpm.reset();
  auto verdict = world.verify(world.submit());
  CHECK(failed(verdict).contains("pcr0-nonzero"));
  CHECK(failed(verdict).contains("pcr4-nonzero"));
  CHECK(failed(verdict).contains("image-known"));
  CHECK_FALSE(verdict.admitted);
}

TEST_CASE("a systemd measurement log is refused as unsupported", "[verifier][policy]") {
  World world;
  auto submission = world.submit();
  submission.systemd_log = encode(bytes_of("{}"));
  require_denied(world.verify(submission), {"systemd-log"});
}

TEST_CASE("garbage in any field is denied, never admitted", "[verifier][policy]") {
  World world;
  auto submission = world.submit();
  SECTION("quote") {
    submission.quoted = encode(Bytes(10, 0xff));
    auto verdict = world.verify(submission);
    CHECK(failed(verdict).contains("quote-parse"));
    CHECK(failed(verdict).contains("ak-signature"));
    CHECK(failed(verdict).contains("magic"));  // 0xffffffff
    CHECK_THAT(find(verdict, check::kNonceBound).detail, Catch::StartsWith("not checked"));
    CHECK_FALSE(verdict.admitted);
  }
  SECTION("event log") {
    submission.event_log = encode(Bytes(100, 0));
    auto verdict = world.verify(submission);
    CHECK(failed(verdict).contains("event-log-parse"));
    CHECK(failed(verdict).contains("image-known"));
    CHECK_FALSE(verdict.admitted);
  }
  SECTION("base64 and hex") {
    submission.signature = "not base64!";
    submission.pcrs[0] = "xyz";
    submission.boot_id.clear();
    auto verdict = world.verify(submission);
    CHECK(failed(verdict).contains("submission"));
    CHECK_THAT(find(verdict, check::kSubmission).detail, Catch::Contains("signature"));
    CHECK_THAT(find(verdict, check::kSubmission).detail, Catch::Contains("PCR 0"));
    CHECK_THAT(find(verdict, check::kSubmission).detail, Catch::Contains("boot_id"));
    CHECK_FALSE(verdict.admitted);
  }
}
