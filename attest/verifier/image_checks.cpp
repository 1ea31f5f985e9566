#include "attest/verifier/image_checks.hpp"

#include <algorithm>
#include <cctype>

#include "attest/verifier/policy.hpp"
#include "attest/verifier/uefi_variable.hpp"
#include "common/hash.hpp"

namespace cairn::attest::verifier {

namespace {

std::string lower(std::string_view hex) {
  std::string out(hex);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// The version whose UKI the firmware measured: the last PCR 4 application that is a loaded
// version's UKI; an approved version wins over a revoked one with the same UKI.
const ImageVersion* match_image(const ImageEvidence& in) {
  const ImageVersion* match = nullptr;
  for (const auto& app : in.evidence->boot_applications) {
    for (const auto& image : in.images) {
      if (lower(image.measurements.uki_authenticode) != app) continue;
      if (!match || lower(match->measurements.uki_authenticode) != app ||
          image.state == ImageState::approved) {
        match = &image;
      }
    }
  }
  return match;
}

void check_boot_chain(const ImageEvidence& in, const ImageVersion& image, Checks& checks) {
  const auto& apps = in.evidence->boot_applications;
  // The version's own systemd-boot, or any approved version's (a loader update does not
  // have to come with every UKI).
  std::vector<std::string> loaders{lower(image.measurements.systemd_boot_authenticode)};
  for (const auto& other : in.images) {
    auto digest = lower(other.measurements.systemd_boot_authenticode);
    if (other.state == ImageState::approved &&
        std::ranges::find(loaders, digest) == loaders.end()) {
      loaders.push_back(digest);
    }
  }
  bool exact = apps.size() == 2 && std::ranges::find(loaders, apps[0]) != loaders.end() &&
               apps[1] == lower(image.measurements.uki_authenticode);
  checks.add(check::kBootChain, exact,
             "PCR 4 applications: " + (apps.empty() ? std::string("none") : join(apps, ", ")) +
                 "; expected systemd-boot (" + join(loaders, " or ") + ") then " + image.label() +
                 "'s UKI " + lower(image.measurements.uki_authenticode));
}

void check_pcr11(const ImageEvidence& in, const ImageVersion& image, Checks& checks) {
  const auto& predicted = image.measurements.pcr11;
  auto value_of = [&](std::string_view phase) {
    auto it = predicted.find(phase);
    return it == predicted.end() ? std::string() : lower(it->second);
  };
  auto replayed = in.evidence->replayed.find(11);
  std::string logged =
      replayed == in.evidence->replayed.end() ? std::string(64, '0') : to_hex(replayed->second);
  std::string sections = value_of("sections");
  checks.add(check::kPcr11Sections, !sections.empty() && logged == sections,
             "the log's PCR 11 events replay to " + logged + ", " + image.label() +
                 "'s UKI sections predict " + (sections.empty() ? "nothing" : sections));

  auto submitted = in.pcrs->find(11);
  if (submitted == in.pcrs->end()) {
    checks.fail(check::kPcr11Phase, "PCR 11 not submitted");
    return;
  }
  std::string value = to_hex(submitted->second);
  for (std::string_view phase : {"sysinit", "ready"}) {
    if (!value_of(phase).empty() && value_of(phase) == value) {
      checks.pass(check::kPcr11Phase, "PCR 11 " + value + " is phase \"" + std::string(phase) +
                                          "\" of " + image.label());
      return;
    }
  }
  checks.fail(check::kPcr11Phase, "PCR 11 " + value + " is neither \"sysinit\" (" +
                                      value_of("sysinit") + ") nor \"ready\" (" +
                                      value_of("ready") + ") of " + image.label());
}

// The db entry that authorised the boot, logged as EFI_SIGNATURE_DATA: SignatureOwner (an
// EFI_GUID) then exactly the certificate's DER. Compared whole: a certificate carrying Cairn's
// inside it (in an extension, say) is another certificate.
bool is_db_entry(const Bytes& data, const Bytes& der, const std::optional<Guid>& owner) {
  constexpr std::size_t kOwnerBytes = 16;
  if (der.empty() || data.size() != kOwnerBytes + der.size()) return false;
  if (!std::equal(der.begin(), der.end(), data.begin() + kOwnerBytes)) return false;
  return !owner || std::equal(owner->begin(), owner->end(), data.begin());
}

void check_db_authority(const ImageEvidence& in, const ImageVersion& image, Checks& checks) {
  const auto& golden = image.measurements;
  std::optional<Guid> owner;
  if (!golden.secure_boot_db_owner.empty()) {
    owner = guid_from_text(golden.secure_boot_db_owner);
    if (!owner) {
      checks.fail(check::kDbAuthority, image.label() + "'s db owner \"" +
                                           golden.secure_boot_db_owner + "\" is not a GUID");
      return;
    }
  }
  bool found = std::ranges::any_of(in.evidence->db_authorities, [&](const Bytes& data) {
    return is_db_entry(data, image.db_certificate_der, owner);
  });
  checks.add(check::kDbAuthority, found,
             std::string(found ? "" : "no ") + "PCR 7 db authority is " + image.label() +
                 "'s certificate " + golden.secure_boot_db_subject + " (sha256 " +
                 lower(golden.secure_boot_db_sha256) +
                 (owner ? ", owner " + golden.secure_boot_db_owner : std::string()) + "); " +
                 std::to_string(in.evidence->db_authorities.size()) + " db authorities logged");
}

void check_equal(const ImageEvidence& in, std::uint32_t pcr, std::string_view expected,
                 std::string_view name, Checks& checks) {
  auto it = in.pcrs->find(pcr);
  std::string value = it == in.pcrs->end() ? "nothing" : to_hex(it->second);
  checks.add(name, value == lower(expected),
             "PCR " + std::to_string(pcr) + " " + value + ", expected " + lower(expected));
}

}  // namespace

const ImageVersion* check_image(const ImageEvidence& in, Checks& checks) {
  constexpr std::string_view kDependent[] = {
      check::kImageRevoked, check::kBootChain, check::kPcr11Sections, check::kPcr11Phase,
      check::kDbAuthority,  check::kPcr12,     check::kPcr13};
  const ImageVersion* image = in.evidence ? match_image(in) : nullptr;
  if (!image) {
    if (!in.evidence) {
      checks.not_checked(check::kImageKnown, "the event log does not parse");
    } else {
      const auto& apps = in.evidence->boot_applications;
      checks.fail(check::kImageKnown,
                  "no loaded image version has the UKI among PCR 4's applications (" +
                      (apps.empty() ? std::string("none") : join(apps, ", ")) + ")");
    }
    for (auto name : kDependent) checks.not_checked(name, "no image version matched");
    return nullptr;
  }
  checks.pass(check::kImageKnown, "the UKI is " + image->label() + "'s");
  checks.add(check::kImageRevoked, image->state == ImageState::approved,
             image->label() + " is " + std::string(image_state_name(image->state)));
  check_boot_chain(in, *image, checks);
  check_pcr11(in, *image, checks);
  check_db_authority(in, *image, checks);
  check_equal(in, 12, image->measurements.pcr12, check::kPcr12, checks);
  check_equal(in, 13, image->measurements.pcr13, check::kPcr13, checks);
  return image;
}

}  // namespace cairn::attest::verifier
