// Fakes at the host agent's two seams: the TPM and the verifier. They record what the agent
// sent and answer what a test scripted.
#pragma once

#include <optional>
#include <vector>

#include "attest/host/attestation_tpm.hpp"
#include "attest/host/verifier_client.hpp"

namespace cairn::attest::host::testing {

inline Bytes bytes_of(std::string_view text) { return Bytes(text.begin(), text.end()); }

class FakeTpm final : public AttestationTpm {
 public:
  TpmIdentity identity_value{.ek_public = bytes_of("ek-public"),
                             .ek_certificate = bytes_of("ek-cert"),
                             .ak_public = bytes_of("ak-public"),
                             .ak_name = {0x00, 0x0b, 0xaa, 0xbb}};
  Bytes released = bytes_of("the secret");  // what ActivateCredential releases
  std::optional<Error> activate_error;
  QuoteResult quote_value{.attest = bytes_of("tpms-attest"),
                          .signature = bytes_of("tpmt-signature"),
                          .pcrs = {{0, Bytes(32, 0x11)}, {7, Bytes(32, 0x77)}}};

  Bytes seen_blob, seen_secret, seen_nonce;
  std::vector<std::uint32_t> seen_pcrs;

  Expected<TpmIdentity> identity() override { return identity_value; }
  Expected<Bytes> activate(std::span<const std::uint8_t> blob,
                           std::span<const std::uint8_t> secret) override {
    seen_blob.assign(blob.begin(), blob.end());
    seen_secret.assign(secret.begin(), secret.end());
    if (activate_error) return std::unexpected(*activate_error);
    return released;
  }
  Expected<QuoteResult> quote(std::span<const std::uint8_t> nonce,
                              std::span<const std::uint32_t> pcrs) override {
    seen_nonce.assign(nonce.begin(), nonce.end());
    seen_pcrs.assign(pcrs.begin(), pcrs.end());
    return quote_value;
  }
};

class FakeVerifier final : public VerifierClient {
 public:
  EnrollChallenge challenge{.enrollment = "e-1",
                            .credential_blob = base64_encode("blob"),
                            .encrypted_secret = base64_encode("secret"),
                            .expires_at = 0};
  EnrollResult result{.host = "kvm-07", .ak_name = "000baabb"};
  NonceGrant grant{
      .nonce = base64_encode("0123456789abcdef0123456789abcdef"), .expires_at = 0, .pcrs = {0, 7}};
  Verdict verdict{.host = "kvm-07",
                  .admitted = true,
                  .image_version = "kvm-host 1.0.0",
                  .checks = {{.name = "nonce-bound", .passed = true, .detail = "ok"}},
                  .token = "payload.signature"};
  std::optional<Error> nonce_error;
  // GET /v1/revocations: this text, or this error.
  Expected<std::string> revocation_answer = std::unexpected(Error(Errc::unavailable, "offline"));
  int revocation_requests = 0;

  Expected<std::string> revocations() override {
    ++revocation_requests;
    return revocation_answer;
  }

  std::optional<EnrollRequest> seen_enroll;
  std::optional<EnrollActivation> seen_activation;
  std::optional<NonceRequest> seen_nonce;
  std::optional<QuoteSubmission> seen_submission;

  Expected<EnrollChallenge> enroll(const EnrollRequest& request) override {
    seen_enroll = request;
    return challenge;
  }
  Expected<EnrollResult> activate(const EnrollActivation& activation) override {
    seen_activation = activation;
    return result;
  }
  Expected<NonceGrant> nonce(const NonceRequest& request) override {
    seen_nonce = request;
    if (nonce_error) return std::unexpected(*nonce_error);
    return grant;
  }
  Expected<Verdict> attest(const QuoteSubmission& submission) override {
    seen_submission = submission;
    return verdict;
  }
};

}  // namespace cairn::attest::host::testing
