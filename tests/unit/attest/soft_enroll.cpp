#include "unit/attest/soft_enroll.hpp"

#include "attest/protocol.hpp"
#include "unit/attest/soft_credential.hpp"

namespace cairn::attest::testing {

namespace {

std::string encode(std::span<const std::uint8_t> bytes) {
  return base64_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
}

std::optional<Bytes> decode(const std::string& text) {
  auto decoded = base64_decode(text);
  if (!decoded) return std::nullopt;
  return Bytes(decoded->begin(), decoded->end());
}

std::string describe(const std::string& what, const HttpReply& reply) {
  if (reply.status == 0) return what + ": " + reply.error;
  return what + ": HTTP " + std::to_string(reply.status) + " " + reply.body.substr(0, 300);
}

}  // namespace

std::optional<std::string> enroll_soft_tpm(const HttpPost& enroll_post,
                                           const HttpPost& activate_post, const SoftTpm& tpm,
                                           const std::string& host) {
  auto challenge_reply =
      enroll_post("/v1/enroll", to_json(EnrollRequest{.host = host,
                                                      .ek_public = encode(tpm.ek_public()),
                                                      .ak_public = encode(tpm.ak_public())}));
  if (challenge_reply.status != 200) return describe("enroll", challenge_reply);
  auto challenge = parse_EnrollChallenge(challenge_reply.body);
  if (!challenge) return "EnrollChallenge: " + challenge.error().describe();
  auto blob = decode(challenge->credential_blob);
  auto encrypted = decode(challenge->encrypted_secret);
  if (!blob || !encrypted) return "EnrollChallenge: a credential that is not base64";
  auto secret = activate_credential(tpm.ek_key(), tpm.ak_name(), *blob, *encrypted);
  if (!secret) return "the soft TPM refused the verifier's credential";
  auto activated = activate_post(
      "/v1/enroll/activate",
      to_json(EnrollActivation{.enrollment = challenge->enrollment, .secret = encode(*secret)}));
  if (activated.status != 200) return describe("activate", activated);
  return std::nullopt;
}

}  // namespace cairn::attest::testing
