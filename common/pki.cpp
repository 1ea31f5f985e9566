#include "common/pki.hpp"

#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstdio>

#include "common/fs.hpp"
#include "common/hash.hpp"

namespace cairn {

namespace fs = std::filesystem;

namespace {

Status add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer ? issuer : cert, cert, nullptr, nullptr, 0);
  X509ExtensionPtr extension(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
  if (!extension || !X509_add_ext(cert, extension.get(), -1)) {
    return fail_openssl(Errc::crypto, std::string("adding certificate extension ") + value);
  }
  return {};
}

Expected<BioPtr> open_bio(const fs::path& path, const char* mode) {
  BioPtr bio(BIO_new_file(path.c_str(), mode));
  if (!bio) {
    return fail(Errc::not_found, std::string("missing key material: ") + path.string());
  }
  return bio;
}

}  // namespace

Expected<EvpPkeyPtr> generate_rsa_key(int bits) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, nullptr));
  EVP_PKEY* key = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 ||
      EVP_PKEY_CTX_set_rsa_keygen_bits(ctx.get(), bits) <= 0 ||
      EVP_PKEY_keygen(ctx.get(), &key) <= 0) {
    return fail_openssl(Errc::crypto, "generating an RSA key");
  }
  return EvpPkeyPtr(key);
}

Expected<X509Ptr> issue_certificate(const CertificateRequest& request, EVP_PKEY* subject_key,
                                    EVP_PKEY* issuer_key, X509* issuer) {
  X509Ptr cert(X509_new());
  if (!cert) return fail_openssl(Errc::crypto, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), request.serial);
  auto seconds = [](std::chrono::system_clock::time_point t) {
    return static_cast<time_t>(std::chrono::system_clock::to_time_t(t));
  };
  ASN1_TIME_set(X509_getm_notBefore(cert.get()), seconds(request.not_before));
  ASN1_TIME_set(X509_getm_notAfter(cert.get()), seconds(request.not_after));
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(request.common_name.c_str()),
                             -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509_set_pubkey(cert.get(), subject_key);
  CAIRN_CHECK(add_extension(cert.get(), issuer, NID_basic_constraints,
                            request.is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE"));
  CAIRN_CHECK(add_extension(cert.get(), issuer, NID_key_usage,
                            request.is_ca ? "critical,keyCertSign,cRLSign,digitalSignature"
                                          : "critical,digitalSignature"));
  CAIRN_CHECK(add_extension(cert.get(), issuer, NID_subject_key_identifier, "hash"));
  CAIRN_CHECK(add_extension(cert.get(), issuer, NID_authority_key_identifier, "keyid:always"));
  if (!request.subject_alt_names.empty()) {
    std::string names;
    for (const auto& entry : request.subject_alt_names) {
      names += (names.empty() ? "" : ",") + entry;
    }
    CAIRN_CHECK(add_extension(cert.get(), issuer, NID_subject_alt_name, names.c_str()));
  }
  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) {
    return fail_openssl(Errc::crypto, "signing certificate " + request.common_name);
  }
  return cert;
}

Status write_private_key_pem(const fs::path& path, EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return fail_openssl(Errc::crypto, "encoding " + path.string());
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return write_file_atomic(path, std::string_view(data, static_cast<std::size_t>(size)), 0600);
}

Status write_certificate_pem(const fs::path& path, X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) {
    return fail_openssl(Errc::crypto, "encoding " + path.string());
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return write_file_atomic(path, std::string_view(data, static_cast<std::size_t>(size)), 0644);
}

Expected<EvpPkeyPtr> read_private_key_pem(const fs::path& path) {
  auto bio = CAIRN_TRY(open_bio(path, "r"));
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return fail_openssl(Errc::crypto, "reading private key " + path.string());
  return key;
}

Expected<X509Ptr> read_certificate_pem(const fs::path& path) {
  auto bio = CAIRN_TRY(open_bio(path, "r"));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return fail_openssl(Errc::crypto, "reading certificate " + path.string());
  return cert;
}

Expected<std::vector<X509Ptr>> read_certificates_pem(const fs::path& path) {
  auto bio = CAIRN_TRY(open_bio(path, "r"));
  std::vector<X509Ptr> certs;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    certs.emplace_back(cert);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (certs.empty()) return fail(Errc::crypto, "no certificate in " + path.string());
  return certs;
}

std::string certificate_subject(X509* cert) {
  char buffer[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buffer, sizeof buffer);
  return buffer;
}

std::string certificate_sha256_fingerprint(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  X509_digest(cert, EVP_sha256(), digest, &size);
  return to_hex(std::span(digest, size));
}

}  // namespace cairn
