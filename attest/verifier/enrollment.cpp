#include "attest/verifier/enrollment.hpp"

#include <openssl/crypto.h>

#include "attest/tpm/structures.hpp"
#include "common/hash.hpp"
#include "common/pki.hpp"

namespace cairn::attest::verifier {

namespace {

Expected<Bytes> decode_field(const std::string& text, std::string_view field) {
  auto bytes = base64_decode(text);
  if (!bytes) return fail(Errc::invalid_input, std::string(field) + " is not base64");
  return Bytes(bytes->begin(), bytes->end());
}

std::string encode(const Bytes& bytes) {
  return base64_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

std::string ek_fingerprint(const Bytes& ek_public) { return to_hex(sha256(ek_public)); }

}  // namespace

bool is_valid_host_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '.' || name.front() == '-') return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// One host name, one EK, both ways: a name keeps its TPM, and a TPM answers for one name only
// (else one genuine TPM could get tokens for every host name it enrolls under).
Status Enrollment::check_same_ek(std::string_view host, const std::string& ek_sha256) {
  auto enrolled = CAIRN_TRY(store_.find_host(host));
  if (enrolled && enrolled->ek_sha256 != ek_sha256) {
    return fail(Errc::permission, "host " + std::string(host) +
                                      " is enrolled with another EK (sha256 " +
                                      enrolled->ek_sha256 + ", this one " + ek_sha256 +
                                      "); an operator must run `cairn-verifier hosts remove " +
                                      std::string(host) + "` first");
  }
  auto holder = CAIRN_TRY(store_.find_host_by_ek(ek_sha256));
  if (holder && holder->name != host) {
    return fail(Errc::permission, "this EK (sha256 " + ek_sha256 + ") is enrolled as host " +
                                      holder->name +
                                      "; an EK belongs to one host name (run "
                                      "`cairn-verifier hosts remove " +
                                      holder->name + "` to move it)");
  }
  return {};
}

Status Enrollment::check_ek_certificate(const std::optional<Bytes>& certificate_der,
                                        const Bytes& ek_public) {
  if (!ek_policy_.ca) {
    if (ek_policy_.allow_without_certificate) return {};
    return fail(Errc::crypto,
                "no EK CA is configured, so no TPM can be told from a software one: give "
                "serve --ek-ca, or --allow-ek-without-certificate for a lab");
  }
  if (!certificate_der) {
    if (ek_policy_.allow_without_certificate) return {};
    return fail(Errc::crypto, "no EK certificate: with an EK CA configured (" +
                                  ek_policy_.ca->string() +
                                  "), a TPM must show one that chains to it");
  }
  const Bytes& certificate = *certificate_der;
  const unsigned char* cursor = certificate.data();
  X509Ptr cert(d2i_X509(nullptr, &cursor, static_cast<long>(certificate.size())));
  if (!cert || cursor != certificate.data() + certificate.size()) {
    return fail_openssl(Errc::invalid_input, "ek_certificate is not one DER certificate");
  }
  X509StorePtr store(X509_STORE_new());
  std::error_code ignored;
  std::vector<std::filesystem::path> files;
  const auto& ca_path = *ek_policy_.ca;
  if (std::filesystem::is_directory(ca_path, ignored)) {
    for (const auto& entry : std::filesystem::directory_iterator(ca_path, ignored)) {
      auto ext = entry.path().extension();
      if (ext == ".pem" || ext == ".crt") files.push_back(entry.path());
    }
  } else {
    files.push_back(ca_path);
  }
  for (const auto& file : files) {
    for (auto& ca : CAIRN_TRY(read_certificates_pem(file))) {
      X509_STORE_add_cert(store.get(), ca.get());
    }
  }
  X509StoreCtxPtr context(X509_STORE_CTX_new());
  if (!context || X509_STORE_CTX_init(context.get(), store.get(), cert.get(), nullptr) != 1) {
    return fail_openssl(Errc::crypto, "setting up EK certificate verification");
  }
  // TPM EK certificates carry the TCG's critical SAN/policy extensions that OpenSSL does not
  // know, and swtpm's local CA issues them without the usual key usages: check the chain and
  // signature, not extension semantics.
  X509_STORE_CTX_set_flags(context.get(), X509_V_FLAG_PARTIAL_CHAIN);
  X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(context.get()),
                              X509_V_FLAG_IGNORE_CRITICAL);
  if (X509_verify_cert(context.get()) != 1) {
    int err = X509_STORE_CTX_get_error(context.get());
    return fail(Errc::crypto, std::string("EK certificate does not chain to the EK CAs in ") +
                                  ca_path.string() + ": " + X509_verify_cert_error_string(err));
  }
  auto ek = CAIRN_TRY(tpm::parse_endorsement_key(ek_public));
  if (EVP_PKEY_eq(X509_get0_pubkey(cert.get()), ek.key.get()) != 1) {
    return fail(Errc::crypto, "the EK certificate certifies another key than the EK sent");
  }
  return {};
}

Expected<EnrollChallenge> Enrollment::begin(const EnrollRequest& request) {
  if (!is_valid_host_name(request.host)) {
    return fail(Errc::invalid_input, "host name \"" + request.host +
                                         "\" must be 1-64 of [A-Za-z0-9._-], not starting with "
                                         "'.' or '-'");
  }
  Bytes ek_public = CAIRN_TRY(decode_field(request.ek_public, "ek_public"));
  Bytes ak_public = CAIRN_TRY(decode_field(request.ak_public, "ak_public"));
  auto ek = CAIRN_TRY(with_context(tpm::parse_endorsement_key(ek_public), "ek_public"));
  auto ak = CAIRN_TRY(with_context(tpm::parse_attestation_key(ak_public), "ak_public"));
  std::optional<Bytes> certificate;
  if (request.ek_certificate) {
    certificate = CAIRN_TRY(decode_field(*request.ek_certificate, "ek_certificate"));
  }
  CAIRN_CHECK(check_ek_certificate(certificate, ek_public));
  CAIRN_CHECK(check_same_ek(request.host, ek_fingerprint(ek_public)));

  Bytes secret = CAIRN_TRY(seams_.random(32));
  Bytes id = CAIRN_TRY(seams_.random(16));
  auto credential = CAIRN_TRY(tpm::make_credential(ek, secret, ak.name));
  auto digest = sha256(secret);
  std::int64_t expires_at = unix_seconds(seams_.now() + kEnrollmentLifetime);
  CAIRN_CHECK(store_.add_pending(PendingEnrollment{.id = to_hex(id),
                                                   .host = request.host,
                                                   .ek_public = std::move(ek_public),
                                                   .ek_certificate = std::move(certificate),
                                                   .ak_public = std::move(ak_public),
                                                   .secret_sha256 = {digest.begin(), digest.end()},
                                                   .expires_at = expires_at}));
  return EnrollChallenge{.enrollment = to_hex(id),
                         .credential_blob = encode(credential.credential_blob),
                         .encrypted_secret = encode(credential.encrypted_secret),
                         .expires_at = expires_at};
}

Expected<EnrollResult> Enrollment::activate(const EnrollActivation& activation) {
  auto pending = CAIRN_TRY(store_.take_pending(activation.enrollment));
  if (!pending) {
    return fail(Errc::not_found, "enrollment " + activation.enrollment +
                                     " is unknown or already used; enroll again");
  }
  std::int64_t now = unix_seconds(seams_.now());
  if (now >= pending->expires_at) {
    return fail(Errc::invalid_input, "enrollment " + activation.enrollment + " expired at " +
                                         std::to_string(pending->expires_at) + " (now " +
                                         std::to_string(now) + "); enroll again");
  }
  Bytes secret = CAIRN_TRY(decode_field(activation.secret, "secret"));
  auto digest = sha256(secret);
  if (pending->secret_sha256.size() != digest.size() ||
      CRYPTO_memcmp(digest.data(), pending->secret_sha256.data(), digest.size()) != 0) {
    return fail(Errc::crypto,
                "the activated secret is wrong: the AK is not a key of the TPM "
                "holding the EK; enroll again");
  }
  auto ek_sha256 = ek_fingerprint(pending->ek_public);
  CAIRN_CHECK(check_same_ek(pending->host, ek_sha256));  // another enrollment may have won
  auto ak = CAIRN_TRY(tpm::parse_attestation_key(pending->ak_public));
  auto existing = CAIRN_TRY(store_.find_host(pending->host));
  HostRecord host{.name = pending->host,
                  .ek_public = std::move(pending->ek_public),
                  .ek_sha256 = ek_sha256,
                  .ek_certificate = std::move(pending->ek_certificate),
                  .ak_public = std::move(pending->ak_public),
                  .ak_name = ak.name,
                  .enrolled_at = now};
  // The same AK again keeps its clock history; a new AK starts a new one, since the resetCount
  // and clock it signs are obfuscated per key and cannot be compared with the old AK's.
  if (existing && existing->ak_name == host.ak_name) {
    host.last_reset_count = existing->last_reset_count;
    host.last_clock = existing->last_clock;
  }
  // The last verdict is the host's, whichever AK signed it: the fleet view keeps it until the
  // next quote.
  if (existing) host.last_verdict = existing->last_verdict;
  CAIRN_CHECK(store_.put_host(host));
  if ((!host.ek_certificate || !ek_policy_.ca) && ek_policy_.log) {
    ek_policy_.log("enrolled " + host.name + " without a checked EK certificate (EK sha256 " +
                   host.ek_sha256 + "), as --allow-ek-without-certificate permits");
  }
  return EnrollResult{.host = host.name, .ak_name = to_hex(host.ak_name)};
}

}  // namespace cairn::attest::verifier
