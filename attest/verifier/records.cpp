#include "attest/verifier/records.hpp"

#include <openssl/pem.h>

#include "common/hash.hpp"
#include "common/openssl.hpp"

namespace cairn::attest::verifier {

std::string_view verdict_result_name(bool admitted) { return admitted ? "admitted" : "denied"; }

std::string_view image_state_name(ImageState state) {
  return state == ImageState::revoked ? "revoked" : "approved";
}

Expected<ImageVersion> make_image_version(GoldenMeasurements measurements, ImageState state,
                                          std::int64_t loaded_at) {
  const auto& pem = measurements.secure_boot_db_pem;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    return fail_openssl(Errc::invalid_input, "secure_boot_db_pem of " + measurements.name + " " +
                                                 measurements.version +
                                                 " holds no PEM certificate");
  }
  unsigned char* der = nullptr;
  int size = i2d_X509(cert.get(), &der);
  if (size <= 0) return fail_openssl(Errc::crypto, "encoding the db certificate as DER");
  ImageVersion image{
      .measurements = std::move(measurements), .state = state, .loaded_at = loaded_at};
  image.db_certificate_der.assign(der, der + size);
  OPENSSL_free(der);
  // The fingerprint is what operators read; the DER is what the check compares: they must agree.
  auto fingerprint = to_hex(sha256(image.db_certificate_der));
  if (fingerprint != image.measurements.secure_boot_db_sha256) {
    return fail(Errc::invalid_input, "secure_boot_db_sha256 of " + image.label() + " is " +
                                         image.measurements.secure_boot_db_sha256 +
                                         " but the certificate's is " + fingerprint);
  }
  return image;
}

}  // namespace cairn::attest::verifier
