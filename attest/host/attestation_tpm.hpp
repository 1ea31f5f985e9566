// The TPM as the agent's flows use it: identity (EK, AK), credential activation, quotes. An
// interface so the flows are unit-tested with a fake; EsysAttestationTpm is the real one.
#pragma once

#include <memory>
#include <optional>
#include <span>

#include "attest/host/keys.hpp"
#include "attest/host/quote.hpp"

namespace cairn::attest::host {

struct TpmIdentity {
  Bytes ek_public;                      // marshaled TPM2B_PUBLIC
  std::optional<Bytes> ek_certificate;  // DER
  Bytes ak_public;                      // marshaled TPM2B_PUBLIC
  Bytes ak_name;                        // nameAlg || H(TPMT_PUBLIC)
  bool ek_persistent = false;
};

class AttestationTpm {
 public:
  virtual ~AttestationTpm() = default;
  virtual Expected<TpmIdentity> identity() = 0;
  // Marshaled TPM2B_ID_OBJECT and TPM2B_ENCRYPTED_SECRET → the released secret.
  virtual Expected<Bytes> activate(std::span<const std::uint8_t> credential_blob,
                                   std::span<const std::uint8_t> encrypted_secret) = 0;
  virtual Expected<QuoteResult> quote(std::span<const std::uint8_t> nonce,
                                      std::span<const std::uint32_t> pcrs) = 0;
};

// ESAPI on a TCTI. Keys are loaded on first use and kept (flushed) for the object's lifetime;
// the EK only when needed (identity, activate), since a quote needs only the AK.
class EsysAttestationTpm final : public AttestationTpm {
 public:
  // `persist_ek`: store a newly created EK at 0x81010001.
  static Expected<std::unique_ptr<EsysAttestationTpm>> open(std::string_view tcti, bool persist_ek);
  Expected<TpmIdentity> identity() override;
  Expected<Bytes> activate(std::span<const std::uint8_t> credential_blob,
                           std::span<const std::uint8_t> encrypted_secret) override;
  Expected<QuoteResult> quote(std::span<const std::uint8_t> nonce,
                              std::span<const std::uint32_t> pcrs) override;

 private:
  EsysAttestationTpm(TpmContext tpm, bool persist_ek)
      : tpm_(std::move(tpm)), persist_ek_(persist_ek) {}
  Expected<const LoadedKey*> ek();
  Expected<const LoadedKey*> ak();

  TpmContext tpm_;
  bool persist_ek_;
  // Declared after tpm_: destroyed (flushed) before the context closes.
  std::optional<LoadedKey> ek_;
  std::optional<LoadedKey> ak_;
};

}  // namespace cairn::attest::host
