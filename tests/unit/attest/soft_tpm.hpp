// A software stand-in for a host's TPM and firmware, for tests and bench/verify: an RSA-2048 EK
// and a restricted signing AK (RSA-2048, or NIST P-256) as marshaled TPM2B_PUBLICs, PCRs extended
// by a synthetic measured boot whose crypto-agile event log replays to them, and TPMS_ATTEST quotes
// signed with the AK into a TPMT_SIGNATURE — the bytes a real TPM and OVMF would give cairn-attest.
//
//   auto image = SoftImage::create("kvm-host", "1.0.0");     // UKI, systemd-boot, db cert
//   auto golden = image.golden();                             // its measurements.json
//   SoftTpm tpm;  tpm.boot(image);                            // ~50 firmware events
//   auto submission = tpm.submission("host-a", nonce);        // a QuoteSubmission
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "attest/protocol.hpp"
#include "common/golden_measurements.hpp"
#include "common/openssl.hpp"

namespace cairn::attest::testing {

using Bytes = std::vector<std::uint8_t>;

Bytes bytes_of(std::string_view text);

// The signed boot chain of one image version, with what cairn-build would predict for it.
struct SoftImage {
  std::string name;
  std::string version;
  Bytes systemd_boot_authenticode;  // 32 bytes
  Bytes uki_authenticode;
  std::vector<std::pair<std::string, std::string>> sections;  // the UKI's, in measuring order
  std::string cmdline;  // the UKI's .cmdline, which systemd-boot measures into PCR 12
  EvpPkeyPtr db_key;
  X509Ptr db_certificate;  // self-signed Secure Boot db certificate

  // Digests derived from the name and version, so two versions differ; a db key per name.
  static SoftImage create(std::string name, std::string version);
  // A version sharing this one's systemd-boot and db certificate (an update), with its own UKI.
  SoftImage next(std::string version) const;

  Bytes db_der() const;
  GoldenMeasurements golden() const;
};

// How the synthetic firmware and OS boot.
struct BootOptions {
  bool secure_boot = true;
  bool db_authority = true;                // log the db certificate in PCR 7
  std::optional<Bytes> db_authority_data;  // set: logged as its EFI_SIGNATURE_DATA instead
  std::string phase = "ready";             // last systemd-pcrphase word extended into PCR 11
  std::string cmdline_override;            // non-empty: the loader passed this instead (PCR 12)
  bool unknown_event = false;              // a PCR 1 event of type 0x0000ffff
  std::uint32_t startup_locality = 0;      // non-zero: a StartupLocality EV_NO_ACTION in PCR 0
};

struct QuoteOptions {
  std::uint32_t magic = 0xff544347;
  std::uint16_t type = 0x8018;  // patched into the marshaled bytes, the body stays a quote's
  std::vector<std::uint32_t> pcrs{std::begin(kQuotedPcrs), std::end(kQuotedPcrs)};
  std::uint16_t bank = 0x000B;  // sha256
};

struct SignedQuote {
  Bytes attest;     // TPMS_ATTEST
  Bytes signature;  // TPMT_SIGNATURE
};

// The AK's key: RSA-2048 RSASSA-SHA256, as cairn-attest creates it, or NIST P-256 ECDSA-SHA256,
// which the verifier admits too. `openssl speed` on the bench machine: ECDSA signs 15 times
// faster (55 000 vs 3 700 /s), verifies 4 times slower (18 000 vs 69 000 /s); bench/verify-http's
// clients share the verifier's two cores, so they sign with ECC.
enum class AkAlgorithm { rsa, ecc };

class SoftTpm {
 public:
  // PCRs all zero, resetCount 1. Keys are generated once per process and identity: two
  // SoftTpms with the same identity are the same TPM (same EK and AK), others differ.
  // `ek_identity` (default: `identity`) lets thousands of TPMs share one RSA EK, which costs
  // ~0.1 s to generate: bench/verify-fleet registers them by a host-unique EK hash of its own.
  explicit SoftTpm(int identity = 0, AkAlgorithm ak = AkAlgorithm::rsa, int ek_identity = -1);

  const Bytes& ek_public() const { return ek_public_; }  // TPM2B_PUBLIC
  const Bytes& ak_public() const { return ak_public_; }
  const Bytes& ak_name() const { return ak_name_; }   // nameAlg || SHA-256(TPMT_PUBLIC)
  EVP_PKEY* ek_key() const { return ek_key_.get(); }  // to certify the EK in tests
  // A new AK in the same TPM (same EK), as after cairn-attest recreated its key.
  void rotate_ak();

  // Extends `digest` into `pcr` and logs the event; log_data(): digest = SHA-256(data).
  void log(std::uint32_t pcr, std::uint32_t type, const Bytes& digest, const Bytes& data);
  void log_data(std::uint32_t pcr, std::uint32_t type, const Bytes& data);
  // Extends without logging, as systemd-pcrphase does with PCR 11.
  void extend(std::uint32_t pcr, const Bytes& digest);
  // A measured boot of `image`: firmware events in PCRs 0-7, systemd-boot and the UKI in 4, the
  // stub's sections in 11 and the cmdline in 12, then the boot phases up to options.phase.
  void boot(const SoftImage& image, const BootOptions& options = {});
  // A power cycle: PCRs zero, the log empty, resetCount + 1.
  void reset();

  Bytes pcr(std::uint32_t index) const;
  const Bytes& event_log() const { return log_; }  // Spec ID header + TCG_PCR_EVENT2 records
  std::uint32_t reset_count() const { return reset_count_; }
  std::uint64_t clock() const { return clock_; }
  void set_clock(std::uint32_t reset_count, std::uint64_t clock) {
    reset_count_ = reset_count;
    clock_ = clock;
  }

  // TPM2_Quote with the AK over `options.pcrs`; the clock advances 1000 ms per quote.
  SignedQuote quote(const Bytes& nonce, const QuoteOptions& options = {});
  // What cairn-attest sends: the quote, the PCRs it covers, the event log, base64 as on the wire.
  QuoteSubmission submission(const std::string& host, const Bytes& nonce,
                             const QuoteOptions& options = {});

 private:
  int identity_;
  AkAlgorithm ak_algorithm_;
  int ak_generation_ = 0;
  EvpPkeyPtr ek_key_, ak_key_;
  Bytes ek_public_, ak_public_, ak_name_;
  std::map<std::uint32_t, Bytes> pcrs_;
  Bytes log_;
  std::uint32_t reset_count_ = 1;
  std::uint64_t clock_ = 100000;
};

// Event log pieces, exposed for tests that edit a log.
Bytes spec_id_header();
Bytes uefi_variable(const std::array<std::uint8_t, 16>& guid, std::string_view name,
                    const Bytes& data);

}  // namespace cairn::attest::testing
