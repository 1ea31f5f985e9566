// builder/uki_measure against the real systemd-measure 252, on UKIs made by the builder's own UKI
// stage (so it lives with the builder tests, which link that stage).
#include "builder/uki_measure.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "builder/keys.hpp"
#include "builder/stages/measurements.hpp"
#include "builder/stages/uki.hpp"
#include "common/authenticode.hpp"
#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/golden_measurements.hpp"
#include "common/pe.hpp"
#include "common/pki.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

namespace {

constexpr const char* kStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub";
constexpr const char* kSystemdMeasure = "/usr/lib/systemd/systemd-measure";

std::string random_bytes(std::size_t size, std::uint32_t seed) {
  std::string bytes(size, '\0');
  for (auto& byte : bytes) {
    seed = seed * 1664525u + 1013904223u;
    byte = static_cast<char>(seed >> 24);
  }
  return bytes;
}

struct Fixture {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-uki-measure-").value();
  SystemProcessRunner runner;
  BuildKeys keys = create_dev_pki(dir.path() / "keys", {}, runner).value();

  // A UKI from the builder's stage; sizes are no multiple of the file alignment, so every
  // section's raw size differs from its VirtualSize.
  fs::path build(const std::string& cmdline) {
    fs::path kernel = dir.path() / "vmlinuz", initrd = dir.path() / "initrd";
    REQUIRE(write_file_atomic(kernel, random_bytes(300001, 1)));
    REQUIRE(write_file_atomic(initrd, random_bytes(123457, 2)));
    fs::path output = dir.path() / "uki.efi";
    auto built = build_uki({.stub = kStub,
                            .kernel = kernel,
                            .initrd = initrd,
                            .os_release = "ID=debian\nIMAGE_VERSION=1\n",
                            .cmdline = cmdline,
                            .uname = "6.1.0-test",
                            .db_key = keys.db_key,
                            .db_cert = keys.db_cert,
                            .output = output,
                            .source_date_epoch = 1700000000},
                           runner);
    REQUIRE(built.has_value());
    return output;
  }

  // The section as objcopy (BFD, not our PE reader) extracts it.
  fs::path extract(const fs::path& uki, const std::string& section) {
    fs::path out = dir.path() / ("section" + section);
    auto run = run_checked(runner, {.argv = {"objcopy", "-O", "binary", "--only-section=" + section,
                                             uki.string(), out.string()}});
    REQUIRE(run.has_value());
    return out;
  }

  // systemd-measure calculate's sha256 PCR 11 for each phase path ("" = sections only).
  std::vector<std::string> systemd_measure(const fs::path& uki,
                                           const std::vector<std::string>& phases) {
    Command command{.argv = {kSystemdMeasure, "calculate", "--bank=sha256", "--json=short"},
                    .capture_stdout = true};
    for (const char* section : {"linux", "osrel", "cmdline", "initrd"}) {
      command.argv.push_back(std::string("--") + section + "=" +
                             extract(uki, std::string(".") + section).string());
    }
    for (const auto& phase : phases) command.argv.push_back("--phase=" + phase);
    auto output = run_checked(runner, command);
    REQUIRE(output.has_value());
    auto json = nlohmann::json::parse(*output);
    std::vector<std::string> values;
    for (const auto& entry : json.at("sha256")) {
      CHECK(entry.at("pcr") == 11);
      values.push_back(entry.at("hash").get<std::string>());
    }
    REQUIRE(values.size() == phases.size());
    return values;
  }
};

std::string hex(const Sha256Digest& digest) { return to_hex(digest); }

}  // namespace

TEST_CASE("PCR 11 predicted from a UKI equals systemd-measure's for every boot phase") {
  Fixture fixture;
  fs::path uki = fixture.build(slot_cmdline(std::string(64, 'b'), "u1", "u2", {"quiet"}));
  auto pe = read_pe(uki).value();
  // The fixture must be able to catch wrong sizes and a wrong order.
  for (const char* name : {".linux", ".osrel", ".cmdline", ".initrd"}) {
    REQUIRE(pe.find(name) != nullptr);
    CHECK(pe.find(name)->raw_size != pe.find(name)->virtual_size);
  }
  REQUIRE(pe.find(".osrel")->raw_offset < pe.find(".linux")->raw_offset);  // file order differs

  auto predicted = predict_uki_measurements(uki);
  REQUIRE(predicted.has_value());
  std::vector<std::string> phase_paths = {""};
  std::string path;
  for (auto phase : kBootPhases) {
    path += (path.empty() ? "" : ":") + std::string(phase);
    phase_paths.push_back(path);
  }
  auto expected = fixture.systemd_measure(uki, phase_paths);
  CHECK(hex(predicted->pcr11_sections) == expected[0]);
  REQUIRE(predicted->pcr11_phases.size() == std::size(kBootPhases));
  for (std::size_t i = 0; i < std::size(kBootPhases); ++i) {
    INFO("after phase " << kBootPhases[i]);
    CHECK(predicted->pcr11_phases[i].first == kBootPhases[i]);
    CHECK(hex(predicted->pcr11_phases[i].second) == expected[i + 1]);
  }
  // systemd 252's stub ignores .uname (and the stub's own .sbat): 253 started measuring them.
  std::vector<std::string> names;
  for (const auto& section : predicted->sections) names.push_back(section.name);
  CHECK(names == std::vector<std::string>{".linux", ".osrel", ".cmdline", ".initrd"});
  CHECK(predicted->sections[0].size == 300001);
}

TEST_CASE("PCR 12 is the UKI's command line as systemd-boot measures it") {
  Fixture fixture;
  // A trailing newline in .cmdline: systemd-boot drops it, systemd-measure (PCR 11) does not.
  std::string cmdline = "root=/dev/mapper/root ro quiet";
  fs::path uki = fixture.build(cmdline + "\n");
  auto predicted = predict_uki_measurements(uki);
  REQUIRE(predicted.has_value());
  CHECK(predicted->load_options == cmdline);
  CHECK(hex(predicted->pcr11_sections) == fixture.systemd_measure(uki, {""})[0]);

  // Independently: iconv's UTF-16LE plus a NUL character, extended into a zero PCR by openssl.
  fs::path text = fixture.dir.path() / "cmdline.txt";
  REQUIRE(write_file_atomic(text, cmdline));
  auto utf16 = run_checked(
      fixture.runner,
      {.argv = {"iconv", "-f", "ASCII", "-t", "UTF-16LE", text.string()}, .capture_stdout = true});
  REQUIRE(utf16.has_value());
  std::string event = *utf16 + std::string(2, '\0');
  std::string pcr(32, '\0');
  auto digest = sha256(event);
  pcr.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  REQUIRE(write_file_atomic(fixture.dir.path() / "extend.bin", pcr));
  auto openssl = run_checked(
      fixture.runner,
      {.argv = {"openssl", "dgst", "-sha256", "-r", (fixture.dir.path() / "extend.bin").string()},
       .capture_stdout = true});
  REQUIRE(openssl.has_value());
  CHECK(hex(predicted->pcr12) == openssl->substr(0, 64));
  CHECK(load_options_utf16(cmdline).value() == event);
  CHECK_FALSE(load_options_utf16("root=x caf\xc3\xa9").has_value());
}

TEST_CASE("a section header claiming gigabytes of zeros is refused, not allocated") {
  // Found by fuzzing: a 40-byte header made the prediction zero-fill VirtualSize (up to 4 GiB).
  Fixture fixture;
  fs::path uki = fixture.build("root=x");
  std::string bytes = read_file(uki).value();
  auto u32 = [&](std::size_t at) {
    std::uint32_t value = 0;
    for (int i = 3; i >= 0; --i) value = value << 8 | static_cast<unsigned char>(bytes[at + i]);
    return value;
  };
  std::size_t pe = u32(0x3c), sections = static_cast<std::uint16_t>(u32(pe + 6));
  std::size_t table = pe + 24 + static_cast<std::uint16_t>(u32(pe + 20));
  bool patched = false;
  for (std::size_t i = 0; i < sections; ++i) {
    std::size_t header = table + i * 40;
    if (bytes.compare(header, 7, ".initrd") != 0) continue;
    for (int b = 0; b < 4; ++b) bytes[header + 8 + b] = static_cast<char>(0x7fff0000u >> (8 * b));
    patched = true;
  }
  REQUIRE(patched);
  REQUIRE(write_file_atomic(uki, bytes));
  auto result = predict_uki_measurements(uki);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::invalid_input);
  CHECK_THAT(result.error().message(), Catch::Contains(".initrd claims 2147418112 bytes"));
}

TEST_CASE("a PE without .linux is no UKI to predict") {
  auto result = predict_uki_measurements(kStub);
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::invalid_input);
  CHECK_THAT(result.error().describe(), Catch::Contains("no .linux section"));
}

TEST_CASE("the measure stage writes signed golden measurements of the boot chain") {
  Fixture fixture;
  fs::path uki = fixture.build("root=/dev/mapper/root ro");
  fs::path boot = fixture.dir.path() / "BOOTX64.EFI";
  REQUIRE(sign_efi_binary("/usr/lib/systemd/boot/efi/systemd-bootx64.efi", boot,
                          fixture.keys.db_key, fixture.keys.db_cert, 1700000000, fixture.runner));
  auto measurements = predict_golden_measurements({.name = "minimal",
                                                   .version = "1.0.0",
                                                   .systemd_boot = boot,
                                                   .uki = uki,
                                                   .secure_boot_db = fixture.keys.db_cert});
  REQUIRE(measurements.has_value());
  CHECK(measurements->uki_authenticode == to_hex(authenticode_sha256(uki).value()));
  CHECK(measurements->systemd_boot_authenticode == to_hex(authenticode_sha256(boot).value()));
  CHECK(measurements->systemd_boot_authenticode != measurements->uki_authenticode);
  CHECK(measurements->pcr11.at("ready") ==
        hex(predict_uki_measurements(uki)->pcr11_phases.back().second));
  CHECK(measurements->pcr13 == std::string(64, '0'));
  auto db = read_certificate_pem(fixture.keys.db_cert).value();
  CHECK(measurements->secure_boot_db_sha256 == certificate_sha256_fingerprint(db.get()));
  CHECK(measurements->secure_boot_db_subject == certificate_subject(db.get()));

  auto signer = CmsSigner::load(fixture.keys.signing_key, fixture.keys.signing_cert).value();
  fs::path out = fixture.dir.path() / "out";
  fs::create_directories(out);
  REQUIRE(write_measurements(*measurements, signer, out));
  auto text = read_file(out / "measurements.json").value();
  auto parsed = parse_golden_measurements(text);
  REQUIRE(parsed.has_value());
  CHECK(parsed->secure_boot_db_pem == measurements->secure_boot_db_pem);
  auto verifier = CmsVerifier::load(fixture.keys.trust_dir).value();
  CHECK(verifier.verify(text, read_file(out / "measurements.json.sig").value()).has_value());
  CHECK_FALSE(verifier.verify(text + " ", read_file(out / "measurements.json.sig").value()));
}
