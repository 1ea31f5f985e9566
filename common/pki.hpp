// Keys and X.509 certificates with OpenSSL 3: generation, PEM files, fingerprints.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/openssl.hpp"

namespace cairn {

Expected<EvpPkeyPtr> generate_rsa_key(int bits);

struct CertificateRequest {
  std::string common_name;
  bool is_ca = false;
  // digitalSignature for signers; keyCertSign + cRLSign for CAs.
  std::chrono::system_clock::time_point not_before;
  std::chrono::system_clock::time_point not_after;
  std::uint64_t serial = 1;
  // subjectAltName entries in OpenSSL's notation: "IP:127.0.0.1", "DNS:verifier.example" (a TLS
  // server's names; clients check them, not the CN).
  std::vector<std::string> subject_alt_names;
};

// Issues a certificate for `subject_key`, signed by `issuer_key`/`issuer` (null issuer:
// self-signed).
Expected<X509Ptr> issue_certificate(const CertificateRequest& request, EVP_PKEY* subject_key,
                                    EVP_PKEY* issuer_key, X509* issuer);

Status write_private_key_pem(const std::filesystem::path& path, EVP_PKEY* key);  // mode 0600
Status write_certificate_pem(const std::filesystem::path& path, X509* cert);
Expected<EvpPkeyPtr> read_private_key_pem(const std::filesystem::path& path);
Expected<X509Ptr> read_certificate_pem(const std::filesystem::path& path);
// All certificates in a PEM file (a chain or a bundle).
Expected<std::vector<X509Ptr>> read_certificates_pem(const std::filesystem::path& path);

std::string certificate_subject(X509* cert);
std::string certificate_sha256_fingerprint(X509* cert);

}  // namespace cairn
