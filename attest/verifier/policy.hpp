// The verifier's admission policy: one pure function from everything known about a quote to a
// Verdict naming every check (attest/protocol.hpp). It touches no store, clock or random source:
// the caller (service, `cairn-verifier check`, bench/verify) fetches the records, passes `now`,
// and afterwards marks the nonce used and, on a pass, records the quote's clock.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string_view>

#include "attest/protocol.hpp"
#include "attest/token.hpp"
#include "attest/verifier/records.hpp"
#include "common/openssl.hpp"

namespace cairn::attest::verifier {

// Stable check ids: they end up in verdicts, logs and scripts, so never rename.
namespace check {
inline constexpr std::string_view kSubmission = "submission";  // base64 fields decode
inline constexpr std::string_view kHostEnrolled = "host-enrolled";
inline constexpr std::string_view kQuoteParse = "quote-parse";      // TPMS_ATTEST parses
inline constexpr std::string_view kMagic = "magic";                 // 0xff544347
inline constexpr std::string_view kType = "type";                   // 0x8018 (quote)
inline constexpr std::string_view kNonceGranted = "nonce-granted";  // the verifier issued it
inline constexpr std::string_view kNonceHost = "nonce-host";        // ... to this host
inline constexpr std::string_view kNonceUnused = "nonce-unused";    // single use
inline constexpr std::string_view kNonceFresh = "nonce-fresh";      // not expired
inline constexpr std::string_view kNonceBound = "nonce-bound";      // extraData == nonce
inline constexpr std::string_view kPcrSelection = "pcr-selection";  // == sha256 kQuotedPcrs
inline constexpr std::string_view kAkSignature = "ak-signature";
inline constexpr std::string_view kPcrDigest = "pcr-digest";  // values → pcrDigest
inline constexpr std::string_view kEventLogParse = "event-log-parse";
inline constexpr std::string_view kEventTypes = "event-types-known";     // in attested PCRs
inline constexpr std::string_view kEventLogReplay = "event-log-replay";  // logged PCRs match
inline constexpr std::string_view kUnloggedPcrs = "unlogged-pcrs-zero";  // 14, 15, ... untouched
inline constexpr std::string_view kSystemdLog = "systemd-log";           // unsupported (252)
inline constexpr std::string_view kPcr0NonZero = "pcr0-nonzero";
inline constexpr std::string_view kPcr4NonZero = "pcr4-nonzero";
inline constexpr std::string_view kImageKnown = "image-known";  // the UKI is a loaded version
inline constexpr std::string_view kImageRevoked = "image-not-revoked";
inline constexpr std::string_view kBootChain = "pcr4-boot-chain";     // exactly systemd-boot, UKI
inline constexpr std::string_view kPcr11Sections = "pcr11-sections";  // log = UKI's sections
inline constexpr std::string_view kPcr11Phase = "pcr11-phase";        // sysinit or ready
inline constexpr std::string_view kSecureBoot = "secure-boot";        // SecureBoot = 1
inline constexpr std::string_view kDbAuthority = "db-authority";      // the version's db cert
inline constexpr std::string_view kPcr12 = "pcr12";                   // no cmdline override
inline constexpr std::string_view kPcr13 = "pcr13";                   // no system extensions
inline constexpr std::string_view kResetCount = "reset-count";        // monotonic
inline constexpr std::string_view kToken = "token";  // only when signing the token failed
}  // namespace check

struct PolicyInput {
  const QuoteSubmission* submission = nullptr;
  const HostRecord* host = nullptr;      // null: the submission's host is not enrolled
  const NonceRecord* nonce = nullptr;    // the record of submission.nonce as it was BEFORE this
                                         // submission marked it used; null: never granted
  std::span<const ImageVersion> images;  // every loaded version, approved and revoked
  std::chrono::system_clock::time_point now;
  // Signs the admission token on a pass; null (e.g. an offline `check`): no token.
  EVP_PKEY* token_key = nullptr;
  std::chrono::seconds token_lifetime = kTokenLifetime;
};

// Runs every check (none stops the others: a verdict names all that failed), failed checks
// first, each in a fixed order otherwise. admitted == every check passed; then image_version
// is "name version" and, with a token key, token is set (TokenClaims bound to boot_id and the
// quote's resetCount). The quote's resetCount/clock to record on a pass: quote_clock().
Verdict verify_quote(const PolicyInput& input);

// The TPMS_CLOCK_INFO of a submission's quote (for the caller to record after a pass);
// nullopt when it does not parse.
std::optional<QuoteClock> quote_clock(const QuoteSubmission& submission);

}  // namespace cairn::attest::verifier
