#include "attest/verifier/policy.hpp"

#include <algorithm>
#include <cstdio>

#include "attest/tpm/structures.hpp"
#include "attest/verifier/checks.hpp"
#include "attest/verifier/firmware_evidence.hpp"
#include "attest/verifier/image_checks.hpp"
#include "attest/verifier/seams.hpp"
#include "common/eventlog.hpp"
#include "common/hash.hpp"

namespace cairn::attest::verifier {

namespace {

using Pcrs = std::map<std::uint32_t, Bytes>;

const std::span<const std::uint32_t> kAttested{kQuotedPcrs};

struct Decoded {
  Bytes nonce, quoted, signature, event_log;
  Pcrs pcrs;
};

struct Context {
  const PolicyInput& in;
  const QuoteSubmission& submission;
  Decoded decoded;
  std::optional<tpm::Quote> quote;
  std::optional<FirmwareEvidence> evidence;
  const ImageVersion* image = nullptr;

  const Bytes* submitted(std::uint32_t pcr) const {
    auto it = decoded.pcrs.find(pcr);
    return it == decoded.pcrs.end() ? nullptr : &it->second;
  }
};

Bytes to_bytes(const std::string& text) { return {text.begin(), text.end()}; }

std::string hex32(std::uint32_t value, int width = 8) {
  char out[16];
  std::snprintf(out, sizeof out, "0x%0*x", width, value);
  return out;
}

void decode(Context& ctx, Checks& checks) {
  std::vector<std::string> problems;
  auto field = [&](const std::string& text, std::string_view name, Bytes& out) {
    auto bytes = base64_decode(text);
    if (bytes) {
      out = to_bytes(*bytes);
    } else {
      problems.push_back(std::string(name) + " is not base64");
    }
  };
  const auto& sub = ctx.submission;
  field(sub.nonce, "nonce", ctx.decoded.nonce);
  field(sub.quoted, "quoted", ctx.decoded.quoted);
  field(sub.signature, "signature", ctx.decoded.signature);
  field(sub.event_log, "event_log", ctx.decoded.event_log);
  for (const auto& [pcr, hex] : sub.pcrs) {
    auto bytes = from_hex(hex);
    if (!bytes || bytes->size() != 32) {
      problems.push_back("PCR " + std::to_string(pcr) + " is not 64 hex digits");
      continue;
    }
    ctx.decoded.pcrs[pcr] = to_bytes(*bytes);
  }
  if (sub.boot_id.empty() || sub.boot_id.size() > 64) {
    problems.push_back("boot_id must be 1 to 64 characters");
  }
  checks.add(check::kSubmission, problems.empty(),
             problems.empty() ? "every field decodes" : join(problems, "; "));
}

void check_host(const Context& ctx, Checks& checks) {
  const HostRecord* host = ctx.in.host;
  bool enrolled = host && host->name == ctx.submission.host;
  checks.add(check::kHostEnrolled, enrolled,
             enrolled ? "AK " + to_hex(host->ak_name)
                      : "host \"" + ctx.submission.host + "\" is not enrolled");
}

void check_nonce(const Context& ctx, Checks& checks) {
  const NonceRecord* granted = ctx.in.nonce;
  if (!granted || granted->nonce != ctx.decoded.nonce) {
    checks.fail(check::kNonceGranted, "nonce " + ctx.submission.nonce + " was never granted");
    for (auto name : {check::kNonceHost, check::kNonceUnused, check::kNonceFresh}) {
      checks.not_checked(name, "no granted nonce");
    }
    return;
  }
  checks.pass(check::kNonceGranted, "granted at " + std::to_string(granted->issued_at));
  checks.add(check::kNonceHost, granted->host == ctx.submission.host,
             "granted to \"" + granted->host + "\", submitted by \"" + ctx.submission.host + "\"");
  checks.add(check::kNonceUnused, !granted->used,
             granted->used ? "already used for an earlier quote (replay)" : "first use");
  std::int64_t now = unix_seconds(ctx.in.now);
  checks.add(check::kNonceFresh, now < granted->expires_at,
             "expires at " + std::to_string(granted->expires_at) + ", now " + std::to_string(now));
}

std::string describe_selection(const std::vector<tpm::PcrSelection>& selection) {
  std::vector<std::string> banks;
  for (const auto& bank : selection) {
    std::vector<std::string> pcrs;
    for (auto pcr : bank.pcrs) pcrs.push_back(std::to_string(pcr));
    std::string name = bank.hash == fw::kAlgSha256 ? "sha256" : "alg " + hex32(bank.hash, 4);
    banks.push_back(name + ":" + join(pcrs, ","));
  }
  return banks.empty() ? "no PCRs" : join(banks, " ");
}

bool is_requested_selection(const std::vector<tpm::PcrSelection>& selection) {
  return selection.size() == 1 && selection[0].hash == fw::kAlgSha256 &&
         std::ranges::equal(selection[0].pcrs, kAttested);
}

void check_signed_pcrs(Context& ctx, const tpm::Quote& quote, Checks& checks) {
  std::string requested =
      describe_selection({tpm::PcrSelection{fw::kAlgSha256, {kAttested.begin(), kAttested.end()}}});
  bool selected = is_requested_selection(quote.selection);
  checks.add(check::kPcrSelection, selected,
             "signed " + describe_selection(quote.selection) + ", requested " + requested);
  if (quote.selection.size() != 1 || quote.selection[0].hash != fw::kAlgSha256) {
    checks.not_checked(check::kPcrDigest, "the quote does not select one sha256 bank");
    return;
  }
  const auto& bank = quote.selection[0];
  std::vector<std::uint32_t> keys;
  for (const auto& [pcr, value] : ctx.decoded.pcrs) keys.push_back(pcr);
  if (keys != bank.pcrs) {
    std::vector<std::string> given;
    for (auto pcr : keys) given.push_back(std::to_string(pcr));
    checks.fail(check::kPcrDigest, "PCR values submitted for " + join(given, ",") +
                                       ", the quote selects " + describe_selection({bank}));
    return;
  }
  auto digest = tpm::pcr_digest(ctx.decoded.pcrs, bank);
  checks.add(check::kPcrDigest, digest == quote.pcr_digest,
             "submitted PCRs digest to " + to_hex(digest) + ", the quote signed " +
                 to_hex(quote.pcr_digest));
}

void check_quote(Context& ctx, Checks& checks) {
  auto quote = tpm::parse_quote(ctx.decoded.quoted);
  if (!quote) {
    checks.fail(check::kQuoteParse, quote.error().describe());
    // tss2-mu reads the body by the type: a wrong type usually breaks the parse, but the header
    // (magic u32, type u16, big-endian) is still there to name what was wrong.
    const auto& raw = ctx.decoded.quoted;
    if (raw.size() >= 6) {
      auto magic = static_cast<std::uint32_t>(raw[0] << 24 | raw[1] << 16 | raw[2] << 8 | raw[3]);
      auto type = static_cast<std::uint16_t>(raw[4] << 8 | raw[5]);
      checks.add(check::kMagic, magic == tpm::kGeneratedValue,
                 hex32(magic) + ", expected " + hex32(tpm::kGeneratedValue));
      checks.add(check::kType, type == tpm::kStAttestQuote,
                 hex32(type, 4) + ", expected " + hex32(tpm::kStAttestQuote, 4));
    } else {
      checks.not_checked(check::kMagic, "the quote does not parse");
      checks.not_checked(check::kType, "the quote does not parse");
    }
    for (auto name : {check::kNonceBound, check::kPcrSelection, check::kPcrDigest}) {
      checks.not_checked(name, "the quote does not parse");
    }
  } else {
    checks.pass(check::kQuoteParse, std::to_string(ctx.decoded.quoted.size()) + " bytes");
    checks.add(check::kMagic, quote->magic == tpm::kGeneratedValue,
               hex32(quote->magic) + ", expected " + hex32(tpm::kGeneratedValue));
    checks.add(check::kType, quote->type == tpm::kStAttestQuote,
               hex32(quote->type, 4) + ", expected " + hex32(tpm::kStAttestQuote, 4));
    checks.add(check::kNonceBound, quote->extra_data == ctx.decoded.nonce,
               "extraData " + to_hex(quote->extra_data) + ", nonce " + to_hex(ctx.decoded.nonce));
    check_signed_pcrs(ctx, *quote, checks);
    ctx.quote = std::move(*quote);
  }
  if (!ctx.in.host || ctx.in.host->name != ctx.submission.host) {
    checks.not_checked(check::kAkSignature, "no enrolled AK");
    return;
  }
  auto ak = tpm::parse_attestation_key(ctx.in.host->ak_public);
  if (!ak) {
    checks.fail(check::kAkSignature, "the enrolled AK: " + ak.error().describe());
    return;
  }
  auto verified = tpm::verify_signature(*ak, ctx.decoded.quoted, ctx.decoded.signature);
  checks.add(check::kAkSignature, verified.has_value(),
             verified ? "signed by AK " + to_hex(ak->name) : verified.error().describe());
}

void check_event_log(Context& ctx, Checks& checks) {
  checks.add(check::kSystemdLog, !ctx.submission.systemd_log.has_value(),
             ctx.submission.systemd_log
                 ? "a systemd measurement log is not supported (systemd 252 writes none; PCR 11 "
                   "is checked against the predicted phase values)"
                 : "none (systemd 252)");
  auto log = fw::parse_event_log(ctx.decoded.event_log);
  if (!log) {
    checks.fail(check::kEventLogParse, log.error().describe());
    for (auto name : {check::kEventTypes, check::kEventLogReplay, check::kUnloggedPcrs}) {
      checks.not_checked(name, "the event log does not parse");
    }
    return;
  }
  ctx.evidence = read_firmware_evidence(*log, kAttested);
  const auto& evidence = *ctx.evidence;
  bool sha256_bank =
      std::ranges::any_of(log->algorithms, [](auto bank) { return bank.first == fw::kAlgSha256; });
  bool parsed = sha256_bank && evidence.missing_sha256.empty();
  checks.add(check::kEventLogParse, parsed,
             !sha256_bank ? "the log declares no sha256 bank"
             : parsed     ? std::to_string(log->events.size()) + " events"
                      : "events without a sha256 digest: " + join(evidence.missing_sha256, "; "));
  checks.add(check::kEventTypes, evidence.unknown_events.empty(),
             evidence.unknown_events.empty()
                 ? "every event in an attested PCR has a known type"
                 : "unknown event types: " + join(evidence.unknown_events, "; "));

  std::vector<std::string> mismatched, unlogged;
  for (auto pcr : kAttested) {
    if (pcr == 11) continue;  // the log holds only the stub's part: see pcr11-sections/-phase
    const Bytes* value = ctx.submitted(pcr);
    auto replayed = evidence.replayed.find(pcr);
    if (replayed == evidence.replayed.end()) {
      if (value && std::ranges::any_of(*value, [](auto byte) { return byte != 0; })) {
        unlogged.push_back("PCR " + std::to_string(pcr) + " = " + to_hex(*value));
      }
    } else if (!value || *value != replayed->second) {
      mismatched.push_back("PCR " + std::to_string(pcr) + ": submitted " +
                           (value ? to_hex(*value) : "nothing") + ", log replays to " +
                           to_hex(replayed->second));
    }
  }
  checks.add(check::kEventLogReplay, mismatched.empty(),
             mismatched.empty() ? "every logged PCR equals the replay" : join(mismatched, "; "));
  checks.add(check::kUnloggedPcrs, unlogged.empty(),
             unlogged.empty() ? "PCRs the log does not touch are zero"
                              : "extended outside the log: " + join(unlogged, "; "));
}

void check_nonzero(const Context& ctx, std::uint32_t pcr, std::string_view name, Checks& checks) {
  const Bytes* value = ctx.submitted(pcr);
  bool nonzero = value && std::ranges::any_of(*value, [](auto byte) { return byte != 0; });
  checks.add(name, nonzero, value ? to_hex(*value) : "not submitted");
}

void check_secure_boot(const Context& ctx, Checks& checks) {
  if (!ctx.evidence) {
    checks.not_checked(check::kSecureBoot, "the event log does not parse");
    return;
  }
  const auto& evidence = *ctx.evidence;
  const Bytes kOn{1};
  bool on =
      !evidence.secure_boot_values.empty() &&
      std::ranges::all_of(evidence.secure_boot_values, [&](const Bytes& v) { return v == kOn; });
  std::string detail;
  if (evidence.secure_boot_values.empty()) {
    detail = "PCR 7 records no SecureBoot variable";
  } else {
    std::vector<std::string> values;
    for (const auto& value : evidence.secure_boot_values) values.push_back(to_hex(value));
    detail = "SecureBoot = " + join(values, ", ");
  }
  if (!evidence.forged_variables.empty()) {
    on = false;
    detail += "; " + join(evidence.forged_variables, "; ");
  }
  checks.add(check::kSecureBoot, on, detail);
}

void check_reset_count(const Context& ctx, Checks& checks) {
  if (!ctx.quote) {
    checks.not_checked(check::kResetCount, "the quote does not parse");
    return;
  }
  const auto& clock = ctx.quote->clock;
  std::string quoted = "quote resetCount " + std::to_string(clock.reset_count) + ", clock " +
                       std::to_string(clock.clock);
  const HostRecord* host = ctx.in.host;
  if (!host || !host->last_reset_count) {
    checks.pass(check::kResetCount, quoted + "; first admitted quote of this host");
    return;
  }
  std::uint32_t last_reset = *host->last_reset_count;
  std::uint64_t last_clock = host->last_clock.value_or(0);
  bool monotonic = clock.reset_count > last_reset ||
                   (clock.reset_count == last_reset && clock.clock >= last_clock);
  checks.add(check::kResetCount, monotonic,
             quoted + "; last admitted resetCount " + std::to_string(last_reset) + ", clock " +
                 std::to_string(last_clock));
}

}  // namespace

std::optional<QuoteClock> quote_clock(const QuoteSubmission& submission) {
  auto bytes = base64_decode(submission.quoted);
  if (!bytes) return std::nullopt;
  auto quote = tpm::parse_quote(to_bytes(*bytes));
  if (!quote) return std::nullopt;
  return QuoteClock{quote->clock.reset_count, quote->clock.clock};
}

Verdict verify_quote(const PolicyInput& input) {
  Context ctx{.in = input, .submission = *input.submission};
  Checks checks;
  decode(ctx, checks);
  check_host(ctx, checks);
  check_nonce(ctx, checks);
  check_quote(ctx, checks);
  check_event_log(ctx, checks);
  check_nonzero(ctx, 0, check::kPcr0NonZero, checks);
  check_nonzero(ctx, 4, check::kPcr4NonZero, checks);
  check_secure_boot(ctx, checks);
  const ImageVersion* image =
      check_image(ImageEvidence{.images = input.images,
                                .evidence = ctx.evidence ? &*ctx.evidence : nullptr,
                                .pcrs = &ctx.decoded.pcrs},
                  checks);
  check_reset_count(ctx, checks);

  Verdict verdict{.host = ctx.submission.host};
  if (image && image->state == ImageState::approved) verdict.image_version = image->label();
  verdict.admitted = checks.all_passed();
  if (verdict.admitted && input.token_key && ctx.quote) {
    auto issued = unix_seconds(input.now);
    auto token = sign_token(TokenClaims{.host = ctx.submission.host,
                                        .image = image->label(),
                                        .boot_id = ctx.submission.boot_id,
                                        .reset_count = ctx.quote->clock.reset_count,
                                        .issued_at = issued,
                                        .expires_at = issued + input.token_lifetime.count()},
                            input.token_key);
    if (token) {
      verdict.token = std::move(*token);
    } else {
      checks.fail(check::kToken, token.error().describe());
      verdict.admitted = false;
    }
  }
  verdict.checks = std::move(checks).ordered();
  return verdict;
}

}  // namespace cairn::attest::verifier
