// Measured boot: with swtpm attached, the firmware event log the guest reads replays to the PCRs
// its TPM reports, and records systemd-boot, the UKI and Cairn's Secure Boot authority.
#include <openssl/x509.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <sstream>

#include "common/authenticode.hpp"
#include "common/eventlog.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/pe.hpp"
#include "common/pki.hpp"
#include "harness/disk_tools.hpp"
#include "harness/environment.hpp"
#include "harness/machine.hpp"
#include "harness/test_support.hpp"

using namespace cairn;
using namespace cairn::qemu;
namespace tpm = cairn::tpm;

namespace {

std::span<const std::uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

std::string hex(std::span<const std::uint8_t> bytes) { return to_hex(bytes); }

// "N HEX" lines → PCR index → lowercase hex.
std::map<std::uint32_t, std::string> parse_pcrs(const std::string& text) {
  std::map<std::uint32_t, std::string> pcrs;
  std::istringstream lines(text);
  std::uint32_t index = 0;
  std::string value;
  while (lines >> index >> value) {
    std::transform(value.begin(), value.end(), value.begin(), ::tolower);
    pcrs[index] = value;
  }
  return pcrs;
}

bool contains(std::span<const std::uint8_t> haystack, std::span<const std::uint8_t> needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) !=
         haystack.end();
}

// UEFI_VARIABLE_DATA: VariableName GUID, name length (chars), data length, name (UTF-16), data.
bool is_secure_boot_on(const tpm::Event& event) {
  if (event.type != tpm::kEvEfiVariableDriverConfig || event.data.size() < 32) return false;
  std::uint64_t name_chars = 0, data_size = 0;
  for (int i = 7; i >= 0; --i) {
    name_chars = name_chars << 8 | event.data[16 + static_cast<std::size_t>(i)];
    data_size = data_size << 8 | event.data[24 + static_cast<std::size_t>(i)];
  }
  std::string name;
  for (std::size_t i = 0; i < name_chars && 32 + 2 * i < event.data.size(); ++i) {
    name += static_cast<char>(event.data[32 + 2 * i]);
  }
  std::size_t value_at = 32 + 2 * name_chars;
  return name == "SecureBoot" && data_size == 1 && value_at < event.data.size() &&
         event.data[value_at] == 1;
}

// The UKI's .cmdline section, without the trailing newline/NULs systemd-boot drops.
std::string uki_cmdline(const std::filesystem::path& uki) {
  auto pe = require(read_pe(uki));
  const PeSection* section = pe.find(".cmdline");
  REQUIRE(section != nullptr);
  auto image = require(read_file(uki));
  std::string cmdline = image.substr(section->raw_offset, section->virtual_size);
  while (!cmdline.empty() && (cmdline.back() == '\n' || cmdline.back() == '\0')) {
    cmdline.pop_back();
  }
  return cmdline;
}

}  // namespace

TEST_CASE("the firmware event log replays to the TPM's PCRs and records the signed boot chain",
          "[boot][tpm]") {
  auto env = require(TestEnvironment::from_env());
  auto options = env.machine("measured-boot", env.disk());
  options.ovmf_vars = require(enrolled_vars(env, env.disk()));
  auto machine = require(Machine::create(options));
  require(machine.start());
  require(machine.wait_for_ssh(180s));
  report_time("boot to SSH", machine.uptime());

  auto raw_log =
      require(machine.run_checked("cat /sys/kernel/security/tpm0/binary_bios_measurements"));
  auto tpm_pcrs = parse_pcrs(require(machine.run_checked(
      "for i in $(seq 0 15); do echo $i $(cat /sys/class/tpm/tpm0/pcr-sha256/$i); done")));
  REQUIRE(tpm_pcrs.size() == 16);
  auto log = require(tpm::parse_event_log(bytes_of(raw_log)));
  INFO(log.events.size() << " events in " << raw_log.size() << " bytes");
  auto replayed = tpm::replay(log, tpm::kAlgSha256);

  {  // one boot, several claims: blocks, not SECTIONs (which would boot again each)
    INFO("PCRs 0-7 equal the replay of the firmware's log");
    for (std::uint32_t pcr = 0; pcr <= 7; ++pcr) {
      INFO("PCR " << pcr);
      REQUIRE(replayed.contains(pcr));
      CHECK(hex(replayed[pcr]) == tpm_pcrs[pcr]);
    }
  }

  {
    INFO("PCR 4 holds the Authenticode digests of the signed systemd-boot and UKI");
    auto boot_efi = machine.options().work_dir / "BOOTX64.EFI";
    require(extract_esp_file(env.disk(), "EFI/BOOT/BOOTX64.EFI", boot_efi));
    auto loader_digest = require(authenticode_sha256(boot_efi));
    auto uki_digest = require(authenticode_sha256(env.image_dir() / "qemu-test_1.0.0.efi"));
    std::vector<std::string> applications;
    for (const auto& event : log.events) {
      if (event.pcr == 4 && event.type == tpm::kEvEfiBootServicesApplication) {
        applications.push_back(hex(event.digest(tpm::kAlgSha256)->bytes));
      }
    }
    CHECK_THAT(applications, Catch::VectorContains(hex(loader_digest)));
    CHECK_THAT(applications, Catch::VectorContains(hex(uki_digest)));
  }

  {
    INFO("PCR 7 records Secure Boot on and Cairn's db certificate as the authority");
    bool secure_boot_on = false, db_authority = false;
    auto db_cert = require(read_certificate_pem(env.keys_dir() / "db.crt"));
    unsigned char* der = nullptr;
    int der_size = i2d_X509(db_cert.get(), &der);
    REQUIRE(der_size > 0);
    std::vector<std::uint8_t> db_der(der, der + der_size);
    OPENSSL_free(der);
    for (const auto& event : log.events) {
      if (event.pcr != 7) continue;
      secure_boot_on = secure_boot_on || is_secure_boot_on(event);
      if (event.type == tpm::kEvEfiVariableAuthority && contains(event.data, db_der)) {
        db_authority = true;
      }
    }
    CHECK(secure_boot_on);
    CHECK(db_authority);
  }

  {
    INFO("PCR 11 is the UKI's sections from the log, then the boot phases");
    bool stub_measured = std::any_of(log.events.begin(), log.events.end(),
                                     [](const tpm::Event& e) { return e.pcr == 11; });
    CHECK(stub_measured);
    auto pcr11 = replayed[11];
    // systemd-pcrphase extends the SHA-256 of each phase name (in the initrd, then the host).
    for (std::string_view phase : {"enter-initrd", "leave-initrd", "sysinit", "ready"}) {
      auto digest = sha256(phase);
      pcr11 = tpm::extend(pcr11, digest, tpm::kAlgSha256);
    }
    CHECK(hex(pcr11) == tpm_pcrs[11]);
  }
  {
    // systemd-boot 252 hands a type-2 entry its own .cmdline as load options and measures them
    // into PCR 12 (the stub, under Secure Boot, ignores them). So PCR 12 holds exactly one event,
    // the signed command line: predictable from the UKI; any other value means an override.
    INFO("PCR 12 holds only the UKI's own command line, PCR 13 is zero");
    std::vector<const tpm::Event*> pcr12;
    for (const auto& event : log.events) {
      if (event.pcr == 12) pcr12.push_back(&event);
    }
    REQUIRE(pcr12.size() == 1);
    std::string measured;
    for (std::size_t i = 0; i + 1 < pcr12[0]->data.size(); i += 2) {
      if (pcr12[0]->data[i] != 0) measured += static_cast<char>(pcr12[0]->data[i]);
    }
    CHECK(measured == uki_cmdline(env.image_dir() / "qemu-test_1.0.0.efi"));
    CHECK(hex(pcr12[0]->digest(tpm::kAlgSha256)->bytes) ==
          hex(sha256(std::string_view(reinterpret_cast<const char*>(pcr12[0]->data.data()),
                                      pcr12[0]->data.size()))));
    CHECK(hex(replayed[12]) == tpm_pcrs[12]);
    CHECK(tpm_pcrs[13] == std::string(64, '0'));
  }
}
