// Detached CMS (RFC 5652) signatures: how commits, measurements and update bundles are signed.
// Signatures carry no signed attributes (no signing time), so with RSA PKCS#1 v1.5 the same
// data and key always give the same bytes — a reproducible build stays bit-identical.
#pragma once

#include <chrono>
#include <ctime>
#include <filesystem>
#include <optional>
#include <vector>

#include "common/hash.hpp"
#include "common/openssl.hpp"
#include "common/signer.hpp"

namespace cairn {

class CmsSigner final : public Signer {
 public:
  // `chain` may be empty or name a PEM file of intermediates to embed.
  static Expected<CmsSigner> load(const std::filesystem::path& key,
                                  const std::filesystem::path& cert,
                                  const std::filesystem::path& chain = {});
  Expected<std::string> sign(std::string_view data) override;

 private:
  CmsSigner() = default;
  EvpPkeyPtr key_;
  X509Ptr cert_;
  X509StackPtr chain_;
};

class CmsVerifier final : public SignatureVerifier {
 public:
  // Trust anchors: every *.crt and *.pem in `anchors_dir` (or the single file it names).
  static Expected<CmsVerifier> load(const std::filesystem::path& anchors);
  // Verification time for validity periods; default: now.
  void set_time(std::chrono::system_clock::time_point when) { time_ = when; }
  // The last signature that held is remembered: the same bytes over the same data, checked
  // again while every certificate of its chain is still valid, answer without the work (a
  // daemon's quiet poll re-checks its cached channel index every time).
  Expected<SignerIdentity> verify(std::string_view data, std::string_view signature) override;

 private:
  // A signature that held: its chain's certificates are all valid from `valid_from` to
  // `valid_until`, the anchors cannot change (a new trust store is a new CmsVerifier).
  struct Verified {
    Sha256Digest data;
    std::string signature;
    SignerIdentity identity;
    std::time_t valid_from = 0;
    std::time_t valid_until = 0;
  };

  CmsVerifier() = default;
  Expected<SignerIdentity> verify_anew(std::string_view data, std::string_view signature,
                                       std::time_t now);
  std::vector<X509Ptr> anchors_;
  std::optional<std::chrono::system_clock::time_point> time_;
  std::optional<Verified> last_;
};

}  // namespace cairn
