#include "builder/stages/measurements.hpp"

#include <openssl/pem.h>

#include "builder/uki_measure.hpp"
#include "common/authenticode.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/pki.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

// The certificate re-encoded as one PEM block: whatever else the key file holds (comments, a
// chain) stays out of measurements.json.
Expected<std::string> certificate_pem(X509* cert, const fs::path& path) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || !PEM_write_bio_X509(bio.get(), cert)) {
    return fail_openssl(Errc::crypto, "encoding " + path.string() + " as PEM");
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

Expected<std::string> authenticode_hex(const fs::path& pe, const std::string& what) {
  auto digest = CAIRN_TRY(with_context(authenticode_sha256(pe), "Authenticode digest of " + what));
  return to_hex(digest);
}

}  // namespace

Expected<GoldenMeasurements> predict_golden_measurements(const MeasurementsInput& input) {
  GoldenMeasurements out{.name = input.name, .version = input.version};
  out.systemd_boot_authenticode = CAIRN_TRY(authenticode_hex(input.systemd_boot, "systemd-boot"));
  out.uki_authenticode = CAIRN_TRY(authenticode_hex(input.uki, "the UKI"));
  auto uki = CAIRN_TRY(
      with_context(predict_uki_measurements(input.uki), "predicting PCR 11 and 12 of the UKI"));
  out.pcr11.emplace("sections", to_hex(uki.pcr11_sections));
  for (const auto& [phase, value] : uki.pcr11_phases) out.pcr11.emplace(phase, to_hex(value));
  out.pcr12 = to_hex(uki.pcr12);
  // Nothing on a Cairn ESP is a system extension for the initrd, so the stub measures nothing
  // into PCR 13.
  out.pcr13 = to_hex(Sha256Digest{});
  auto cert = CAIRN_TRY(read_certificate_pem(input.secure_boot_db));
  out.secure_boot_db_pem = CAIRN_TRY(certificate_pem(cert.get(), input.secure_boot_db));
  out.secure_boot_db_sha256 = certificate_sha256_fingerprint(cert.get());
  out.secure_boot_db_subject = certificate_subject(cert.get());
  out.secure_boot_db_owner = std::string(kCairnSignatureOwner);
  return out;
}

Status write_measurements(const GoldenMeasurements& measurements, Signer& signer,
                          const fs::path& dir) {
  std::string text = to_json(measurements);
  CAIRN_CHECK(write_file_atomic(dir / "measurements.json", text));
  auto signature = CAIRN_TRY(signer.sign(text));
  return write_file_atomic(dir / "measurements.json.sig", signature);
}

}  // namespace cairn::builder
