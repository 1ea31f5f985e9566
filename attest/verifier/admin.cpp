#include "attest/verifier/admin.hpp"

#include "attest/verifier/policy.hpp"
#include "attest/verifier/seams.hpp"
#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"

namespace cairn::attest::verifier {

Expected<ImageVersion> approve_measurements(Store& store, const std::filesystem::path& file,
                                            const std::filesystem::path& signature,
                                            const std::filesystem::path& trust,
                                            std::chrono::system_clock::time_point now) {
  auto text = CAIRN_TRY(read_file(file));
  auto signature_der = CAIRN_TRY(read_file(signature));
  auto verifier = CAIRN_TRY(with_context(CmsVerifier::load(trust), "trust anchors"));
  CAIRN_TRY(with_context(verifier.verify(text, signature_der),
                         "signature " + signature.string() + " over " + file.string()));
  auto measurements = CAIRN_TRY(parse_golden_measurements(text));
  auto image = CAIRN_TRY(
      make_image_version(std::move(measurements), ImageState::approved, unix_seconds(now)));
  CAIRN_CHECK(store.add_image(image));
  return image;
}

Expected<Verdict> check_offline(Store& store, const QuoteSubmission& submission,
                                std::string_view nonce_base64,
                                std::chrono::system_clock::time_point now) {
  auto nonce = base64_decode(nonce_base64);
  if (!nonce) return fail(Errc::invalid_input, "--nonce is not base64");
  auto host = CAIRN_TRY(store.find_host(submission.host));
  auto images = CAIRN_TRY(store.list_images());
  // The operator vouches for the nonce: granted to this host, unused, fresh.
  NonceRecord granted{.nonce = Bytes(nonce->begin(), nonce->end()),
                      .host = submission.host,
                      .issued_at = unix_seconds(now),
                      .expires_at = unix_seconds(now) + 1};
  return verify_quote(PolicyInput{.submission = &submission,
                                  .host = host ? &*host : nullptr,
                                  .nonce = &granted,
                                  .images = images,
                                  .now = now});
}

nlohmann::json to_json_value(const HostRecord& host) {
  nlohmann::json out{{"name", host.name},
                     {"ek_sha256", host.ek_sha256},
                     {"ek_certificate", host.ek_certificate.has_value()},
                     {"ak_name", to_hex(host.ak_name)},
                     {"enrolled_at", host.enrolled_at},
                     {"last_reset_count", nullptr},
                     {"last_clock", nullptr},
                     {"last_verdict", nullptr},
                     {"last_verdict_version", nullptr},
                     {"last_verdict_at", nullptr}};
  if (host.last_reset_count) out["last_reset_count"] = *host.last_reset_count;
  if (host.last_clock) out["last_clock"] = *host.last_clock;
  if (const auto& last = host.last_verdict) {
    out["last_verdict"] = verdict_result_name(last->admitted);
    if (!last->image_version.empty()) out["last_verdict_version"] = last->image_version;
    out["last_verdict_at"] = iso8601_utc(last->at);
  }
  return out;
}

nlohmann::json to_json_value(const ImageVersion& image) {
  const auto& golden = image.measurements;
  return {{"name", golden.name},
          {"version", golden.version},
          {"state", image_state_name(image.state)},
          {"loaded_at", image.loaded_at},
          {"uki_authenticode", golden.uki_authenticode},
          {"systemd_boot_authenticode", golden.systemd_boot_authenticode},
          {"secure_boot_db_subject", golden.secure_boot_db_subject}};
}

}  // namespace cairn::attest::verifier
