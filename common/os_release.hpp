// os-release (freedesktop.org): the image fields Cairn adds and reads back. The image's security
// version is recorded there at build time, so it travels inside the verity-protected root and in
// the signed UKI's .osrel section alike.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace cairn {

inline constexpr std::string_view kSecurityVersionField = "CAIRN_SECURITY_VERSION";

// The value of `key` (quotes removed); nullopt when the key is absent.
std::optional<std::string> os_release_field(std::string_view text, std::string_view key);

// CAIRN_SECURITY_VERSION of an image's os-release: 0 for an image built before Cairn recorded
// it; Errc::invalid_input naming `where` when it is not a decimal number.
Expected<std::uint64_t> image_security_version(std::string_view os_release, std::string_view where);

}  // namespace cairn
