// Remote attestation end to end: a verifier on the test machine approves the image from the
// build's signed measurements.json; the booted host (OVMF with Secure Boot, swtpm, the real
// firmware event log) enrolls, quotes and is admitted, and the libvirt hook lets a domain
// start. The same host, its UKI swapped for a modified one still signed by the db key, boots
// fine — Secure Boot cannot tell — but is denied, and the hook refuses the domain.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/pe.hpp"
#include "common/process.hpp"
#include "harness/test_support.hpp"
#include "harness/update_flow.hpp"
#include "harness/verifier.hpp"

using namespace cairn;
using namespace cairn::qemu;

namespace {

namespace fs = std::filesystem;

// A domain that asks for nothing: only the attestation hook can refuse it here (the image has
// no libvirtd; the hook runs exactly as libvirtd runs it, the domain XML on stdin).
constexpr const char* kRunHook =
    "echo '<domain type=\"kvm\"><name>tenant</name></domain>' | "
    "/etc/libvirt/hooks/qemu.d/20-cairn-attestation tenant prepare begin -";

// Points the guest's cairn-attest at the verifier (run-time configuration: /etc is the image's).
// Once configured, the image's own agent would attest too: the health check of this boot and
// the refresh timer. The test drives cairn-attest itself, so they are done or stopped first: an
// enrollment or quote of theirs between the test's quote and its verdict would change what the
// verifier answers (its reset-count check sees a newer quote).
void configure_guest(Machine& machine, const TestVerifier& verifier) {
  require(wait_for_health(machine, 120s));
  require(machine.run_checked("systemctl stop cairn-attest.timer"));
  require(machine.copy_to_guest(verifier.public_key, "/tmp/verifier-token.pub"));
  require(machine.run_checked(
      "mkdir -p /run/cairn && install -m 0644 /tmp/verifier-token.pub /run/cairn/verifier.pub && "
      "printf 'verifier_url = \"" +
      verifier.guest_url() +
      "\"\\nverifier_key = \"/run/cairn/verifier.pub\"\\n' > /run/cairn/attest.toml"));
}

nlohmann::json attest_json(Machine& machine, int& exit_code) {
  auto result = require(machine.run("cairn-attest attest --json", 180s));
  exit_code = result.exit_code;
  auto verdict = nlohmann::json::parse(result.output, nullptr, false);
  INFO("cairn-attest attest: exit " << result.exit_code << ": " << result.output);
  REQUIRE_FALSE(verdict.is_discarded());
  return verdict;
}

std::vector<std::string> failed_checks(const nlohmann::json& verdict) {
  std::vector<std::string> failed;
  for (const auto& check : verdict["checks"]) {
    if (!check["passed"].get<bool>()) failed.push_back(check["name"].get<std::string>());
  }
  return failed;
}

// The image's UKI with one kernel parameter weakened (same length, so the PE layout holds),
// re-signed with the db key: Secure Boot accepts it, attestation must not.
fs::path make_modified_uki(const TestEnvironment& env, const fs::path& dir) {
  fs::path uki = env.image_dir() / "qemu-test_1.0.0.efi";
  auto pe = require(read_pe(uki));
  const PeSection* cmdline = pe.find(".cmdline");
  REQUIRE(cmdline != nullptr);
  auto image = require(read_file(uki));
  std::string_view text(image.data() + cmdline->raw_offset, cmdline->virtual_size);
  // init_on_alloc=1 → init_on_alloc=0: allocations are no longer zeroed, same byte count.
  auto at = text.find("init_on_alloc=1");
  REQUIRE(at != std::string_view::npos);
  image[cmdline->raw_offset + at + std::string_view("init_on_alloc=").size()] = '0';
  fs::path modified = dir / "modified-unsigned.efi", signed_uki = dir / "modified.efi";
  require(write_file_atomic(modified, image));
  SystemProcessRunner runner;
  require(run_step(runner, {.argv = {"sbattach", "--remove", modified.string()}}));
  require(run_step(runner, {.argv = {"sbsign", "--key", (env.keys_dir() / "db.key").string(),
                                     "--cert", (env.keys_dir() / "db.crt").string(), "--output",
                                     signed_uki.string(), modified.string()}}));
  return signed_uki;
}

}  // namespace

TEST_CASE("an attested host is admitted and a host with a modified UKI is denied",
          "[attestation][tpm]") {
  auto env = require(TestEnvironment::from_env());
  fs::path dir = env.machine_dir("attestation-verifier");
  fs::remove_all(dir);
  fs::create_directories(dir);
  auto verifier = require(start_verifier(env, dir));
  auto machine = require(boot_first_version(env, "attestation"));
  configure_guest(machine, verifier);

  auto started = std::chrono::steady_clock::now();
  auto enroll = require(machine.run("cairn-attest enroll", 180s));
  INFO("enroll: " << enroll.output);
  REQUIRE(enroll.exit_code == 0);
  report_time("enrollment (guest, TCG)", seconds_since(started));
  started = std::chrono::steady_clock::now();
  int exit_code = -1;
  auto verdict = attest_json(machine, exit_code);
  report_time("quote and verdict (guest, TCG)", seconds_since(started));
  {
    INFO(verdict.dump(1));
    CHECK(exit_code == 0);
    CHECK(verdict["admitted"] == true);
    CHECK(failed_checks(verdict).empty());
    CHECK(verdict["image_version"] == "qemu-test 1.0.0");
  }
  require(machine.run_checked("cairn-attest check-token"));
  // The same through the image's own unit (what the timer runs), in its sandbox.
  require(
      machine.run_checked("rm /run/cairn/attest/token && systemctl start cairn-attest.service"
                          " && cairn-attest check-token",
                          180s));
  auto hook = require(machine.run(kRunHook));
  CHECK(hook.exit_code == 0);

  // The same host and TPM, its boot entry's UKI replaced in place by a modified one.
  fs::path modified = make_modified_uki(env, dir);
  require(machine.copy_to_guest(modified, "/tmp/modified.efi"));
  // After the health window blessed the entry (cairn_1.0.0+3-0.efi → cairn_1.0.0.efi), so the
  // rename cannot race the copy.
  require(machine.run_checked(
      "timeout 300 sh -c 'until [ -e /efi/EFI/Linux/cairn_1.0.0.efi ]; do sleep 2; done' && "
      "cp /tmp/modified.efi /efi/EFI/Linux/cairn_1.0.0.efi && sync",
      320s));
  require(reboot_guest(machine));
  require(machine.wait_for_ssh(180s));
  CHECK(require(machine.run_checked("cat /proc/cmdline")).find("init_on_alloc=0") !=
        std::string::npos);
  configure_guest(machine, verifier);
  verdict = attest_json(machine, exit_code);
  {
    INFO(verdict.dump(1));
    CHECK(exit_code == 6);
    CHECK(verdict["admitted"] == false);
    auto failed = failed_checks(verdict);
    // The UKI in PCR 4 is no approved version (the checks that compare with a version's
    // measurements are then reported as not checked).
    CHECK_THAT(failed, Catch::VectorContains(std::string("image-known")));
    // Everything else about the host still holds: the enrolled TPM's AK signed a fresh quote
    // over PCRs that replay from the firmware's log, with Secure Boot on.
    for (std::string genuine : {"ak-signature", "nonce-bound", "nonce-fresh", "pcr-digest",
                                "event-log-replay", "secure-boot", "reset-count"}) {
      CHECK_THAT(failed, !Catch::VectorContains(genuine));
    }
  }
  CHECK(require(machine.run("cairn-attest check-token")).exit_code == 6);
  CHECK(require(machine.run("systemctl start cairn-attest.service", 180s)).exit_code != 0);
  hook = require(machine.run(kRunHook + std::string(" 2>&1")));
  CHECK(hook.exit_code != 0);
  CHECK_THAT(hook.output, Catch::Contains("domain tenant refused"));
}
