// attest_fake_boot: a pretend UEFI firmware + systemd-boot + systemd-stub 252 boot of a pretend
// Cairn image, for tests/integration/attest.sh. It extends a (software) TPM's PCRs as the real
// boot chain would and writes the matching crypto-agile event log, and it writes the golden
// measurements.json of that image the way cairn-build predicts them. Both come from one fixed
// description (the UKI's sections, the two PE images' Authenticode digests), so a verifier that
// approved the measurements admits the boot, and each attack the test stages breaks one check.
//
//   attest_fake_boot measurements --db-cert CERT.pem --out measurements.json [--version V]
//   attest_fake_boot boot --tcti TCTI --db-cert CERT.pem --log LOG [--version V] [--cmdline S]
//   attest_fake_boot extend --tcti TCTI --log LOG --pcr N --ipl TEXT   (a logged EV_IPL)
#include <openssl/pem.h>
#include <tss2/tss2_esys.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "attest/host/tpm_context.hpp"
#include "builder/uki_measure.hpp"
#include "common/eventlog.hpp"
#include "common/fs.hpp"
#include "common/golden_measurements.hpp"
#include "common/hash.hpp"
#include "common/openssl.hpp"

namespace {

using namespace cairn;
using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

// The pretend UKI: systemd-stub 252 measures these sections, in this order, into PCR 11.
std::vector<std::pair<std::string, std::string>> uki_sections(const std::string& version) {
  return {{".linux", "fake linux kernel " + version},
          {".osrel", "ID=cairn\nVERSION_ID=" + version + "\n"},
          {".cmdline", "root=PARTUUID=fake ro quiet"},
          {".initrd", "fake initrd " + version}};
}
std::string systemd_boot_digest() { return to_hex(sha256("fake systemd-boot")); }
std::string uki_digest(const std::string& version) { return to_hex(sha256("fake uki " + version)); }

struct Event {
  std::uint32_t pcr;
  std::uint32_t type;
  Sha256Digest digest;
  Bytes data;
};

void put_le(Bytes& out, std::uint64_t value, int size) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

Bytes utf16(std::string_view text) {
  Bytes out;
  for (char c : text) put_le(out, static_cast<unsigned char>(c), 2);
  return out;
}

// UEFI_VARIABLE_DATA (TCG PC Client PFP 10.4.2).
Bytes uefi_variable(const std::uint8_t (&guid)[16], std::string_view name, const Bytes& data) {
  Bytes out(guid, guid + 16);
  put_le(out, name.size(), 8);
  put_le(out, data.size(), 8);
  Bytes name16 = utf16(name);
  out.insert(out.end(), name16.begin(), name16.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

constexpr std::uint8_t kGlobal[16] = {0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11,
                                      0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
constexpr std::uint8_t kImageSecurity[16] = {0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
                                             0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};

Event measured(std::uint32_t pcr, std::uint32_t type, Bytes data) {
  return {pcr, type, sha256(data), std::move(data)};
}

// An event whose digest is not H(data) (PE images: the Authenticode digest; the data is the
// UEFI_IMAGE_LOAD_EVENT, here with an empty device path).
Event image_load(const std::string& digest_hex) {
  Event event{4, tpm::kEvEfiBootServicesApplication, {}, Bytes(32, 0)};
  auto raw = *from_hex(digest_hex);
  std::memcpy(event.digest.data(), raw.data(), 32);
  return event;
}

Expected<X509Ptr> read_cert(const std::filesystem::path& path) {
  auto pem = CAIRN_TRY(read_file(path));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return fail_openssl(Errc::invalid_input, path.string() + ": not a PEM certificate");
  return cert;
}

Bytes der_of(X509* cert) {
  unsigned char* der = nullptr;
  int size = i2d_X509(cert, &der);
  Bytes out(der, der + size);
  OPENSSL_free(der);
  return out;
}

// The firmware, systemd-boot and stub events of one boot, in the order they happen.
std::vector<Event> boot_events(const std::string& version, const Bytes& db_der,
                               const std::string& load_options) {
  std::vector<Event> events;
  const Bytes separator(4, 0);
  events.push_back(measured(0, tpm::kEvSCrtmVersion, utf16(std::string("1.00") + '\0')));
  events.push_back(measured(0, tpm::kEvEfiPlatformFirmwareBlob, Bytes(16, 0x42)));
  events.push_back(
      measured(7, tpm::kEvEfiVariableDriverConfig, uefi_variable(kGlobal, "SecureBoot", {1})));
  events.push_back(measured(7, tpm::kEvEfiVariableDriverConfig,
                            uefi_variable(kGlobal, "PK", bytes_of("fake PK list"))));
  events.push_back(measured(7, tpm::kEvEfiVariableDriverConfig,
                            uefi_variable(kGlobal, "KEK", bytes_of("fake KEK list"))));
  events.push_back(
      measured(7, tpm::kEvEfiVariableDriverConfig, uefi_variable(kImageSecurity, "db", db_der)));
  events.push_back(
      measured(7, tpm::kEvEfiVariableDriverConfig, uefi_variable(kImageSecurity, "dbx", Bytes{})));
  events.push_back(
      measured(4, tpm::kEvEfiAction, bytes_of("Calling EFI Application from Boot Option")));
  for (std::uint32_t pcr = 0; pcr <= 7; ++pcr) {
    events.push_back(measured(pcr, tpm::kEvSeparator, separator));
  }
  // The db entry that authorised systemd-boot: EFI_SIGNATURE_DATA = owner GUID + certificate.
  Bytes signature_data(16, 0x77);
  signature_data.insert(signature_data.end(), db_der.begin(), db_der.end());
  events.push_back(measured(7, tpm::kEvEfiVariableAuthority,
                            uefi_variable(kImageSecurity, "db", signature_data)));
  events.push_back(image_load(systemd_boot_digest()));
  events.push_back(measured(12, tpm::kEvIpl, bytes_of(*load_options_utf16(load_options))));
  events.push_back(image_load(uki_digest(version)));
  for (const auto& [name, contents] : uki_sections(version)) {
    events.push_back(measured(11, tpm::kEvIpl, bytes_of(name + '\0')));
    Event section = measured(11, tpm::kEvIpl, bytes_of(contents));
    section.data = bytes_of(name + '\0');  // the stub logs the section name as the description
    events.push_back(section);
  }
  events.push_back(measured(5, tpm::kEvEfiAction, bytes_of("Exit Boot Services Invocation")));
  return events;
}

constexpr std::uint8_t kSpecId[16] = {'S', 'p', 'e', 'c', ' ', 'I', 'D', ' ',
                                      'E', 'v', 'e', 'n', 't', '0', '3', 0};

Bytes log_header() {
  Bytes spec(kSpecId, kSpecId + 16);
  put_le(spec, 0, 4);                     // platformClass
  spec.insert(spec.end(), {0, 2, 0, 2});  // spec version 2.0, errata 0, uintnSize 2 (u64)
  put_le(spec, 1, 4);                     // numberOfAlgorithms
  put_le(spec, tpm::kAlgSha256, 2);
  put_le(spec, 32, 2);
  spec.push_back(0);  // vendorInfoSize
  Bytes out;
  put_le(out, 0, 4);
  put_le(out, tpm::kEvNoAction, 4);
  out.insert(out.end(), 20, 0);
  put_le(out, spec.size(), 4);
  out.insert(out.end(), spec.begin(), spec.end());
  return out;
}

Bytes log_record(const Event& event) {
  Bytes out;
  put_le(out, event.pcr, 4);
  put_le(out, event.type, 4);
  put_le(out, 1, 4);
  put_le(out, tpm::kAlgSha256, 2);
  out.insert(out.end(), event.digest.begin(), event.digest.end());
  put_le(out, event.data.size(), 4);
  out.insert(out.end(), event.data.begin(), event.data.end());
  return out;
}

Status extend(const attest::host::TpmContext& tpm, std::uint32_t pcr, const Sha256Digest& digest) {
  TPML_DIGEST_VALUES values{};
  values.count = 1;
  values.digests[0].hashAlg = TPM2_ALG_SHA256;
  std::memcpy(values.digests[0].digest.sha256, digest.data(), digest.size());
  TSS2_RC rc = Esys_PCR_Extend(tpm.esys(), ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                               ESYS_TR_NONE, &values);
  if (rc != TSS2_RC_SUCCESS)
    return attest::host::fail_tpm("extending PCR " + std::to_string(pcr), rc);
  return {};
}

Status append_log(const std::filesystem::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) return fail(Errc::io, "cannot write " + path.string());
  return {};
}

std::string default_options() {
  for (const auto& [name, contents] : uki_sections("")) {
    if (name == ".cmdline") return contents;
  }
  return {};
}

Status write_measurements(const std::string& version, const std::filesystem::path& cert_path,
                          const std::filesystem::path& out) {
  X509Ptr cert = CAIRN_TRY(read_cert(cert_path));
  GoldenMeasurements golden{.name = "fake",
                            .version = version,
                            .systemd_boot_authenticode = systemd_boot_digest(),
                            .uki_authenticode = uki_digest(version)};
  Sha256Digest pcr{};
  for (const auto& [name, contents] : uki_sections(version)) {
    pcr = extend_sha256(pcr, sha256(name + '\0'));
    pcr = extend_sha256(pcr, sha256(contents));
  }
  golden.pcr11["sections"] = to_hex(pcr);
  for (std::string_view phase : kBootPhases) {
    pcr = extend_sha256(pcr, sha256(phase));
    golden.pcr11[std::string(phase)] = to_hex(pcr);
  }
  auto options_utf16 = CAIRN_TRY(load_options_utf16(default_options()));
  golden.pcr12 = to_hex(extend_sha256(Sha256Digest{}, sha256(options_utf16)));
  golden.pcr13 = std::string(64, '0');
  golden.secure_boot_db_pem = CAIRN_TRY(read_file(cert_path));
  golden.secure_boot_db_sha256 = to_hex(sha256(der_of(cert.get())));
  char subject[256];
  X509_NAME_oneline(X509_get_subject_name(cert.get()), subject, sizeof subject);
  golden.secure_boot_db_subject = subject;
  return write_file_atomic(out, to_json(golden));
}

Status boot(const std::string& tcti, const std::string& version,
            const std::filesystem::path& cert_path, const std::filesystem::path& log,
            const std::string& cmdline) {
  X509Ptr cert = CAIRN_TRY(read_cert(cert_path));
  auto tpm = CAIRN_TRY(attest::host::TpmContext::open(tcti));
  Bytes out = log_header();
  for (const auto& event :
       boot_events(version, der_of(cert.get()), cmdline.empty() ? default_options() : cmdline)) {
    CAIRN_CHECK(extend(tpm, event.pcr, event.digest));
    Bytes record = log_record(event);
    out.insert(out.end(), record.begin(), record.end());
  }
  // systemd-pcrphase: extended, but into no log systemd 252 keeps.
  for (std::string_view phase : kBootPhases) CAIRN_CHECK(extend(tpm, 11, sha256(phase)));
  return write_file_atomic(log, std::string(out.begin(), out.end()));
}

}  // namespace

int main(int argc, char** argv) {
  ::setenv("TSS2_LOG", "all+NONE", 0);
  CLI::App app{"attest_fake_boot: a pretend measured boot for cairn-attest's tests"};
  app.require_subcommand(1);
  std::string tcti, version = "1.0.0", cmdline, ipl;
  std::filesystem::path cert, out, log;
  std::uint32_t pcr = 0;
  auto* measurements = app.add_subcommand("measurements", "write the golden measurements.json");
  measurements->add_option("--db-cert", cert)->required();
  measurements->add_option("--out", out)->required();
  measurements->add_option("--version", version);
  auto* boot_cmd = app.add_subcommand("boot", "extend the PCRs and write the event log");
  boot_cmd->add_option("--tcti", tcti)->required();
  boot_cmd->add_option("--db-cert", cert)->required();
  boot_cmd->add_option("--log", log)->required();
  boot_cmd->add_option("--version", version);
  boot_cmd->add_option("--cmdline", cmdline, "load options other than the UKI's own");
  auto* extend_cmd = app.add_subcommand("extend", "one more logged EV_IPL event");
  extend_cmd->add_option("--tcti", tcti)->required();
  extend_cmd->add_option("--log", log)->required();
  extend_cmd->add_option("--pcr", pcr)->required();
  extend_cmd->add_option("--ipl", ipl)->required();
  CLI11_PARSE(app, argc, argv);

  Status status;
  if (*measurements) {
    status = write_measurements(version, cert, out);
  } else if (*boot_cmd) {
    status = boot(tcti, version, cert, log, cmdline);
  } else {
    auto tpm = attest::host::TpmContext::open(tcti);
    Event event = measured(pcr, tpm::kEvIpl, bytes_of(ipl));
    status = tpm ? extend(*tpm, pcr, event.digest) : Status(std::unexpected(tpm.error()));
    if (status) status = append_log(log, log_record(event));
  }
  if (!status) {
    std::fprintf(stderr, "attest_fake_boot: %s\n", status.error().describe().c_str());
    return 1;
  }
  return 0;
}
