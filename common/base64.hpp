// Padded standard base64 (RFC 4648 §4), strict both ways: the attestation protocol carries TPM
// structures in it, and etcd's JSON gateway carries every key and value in it.
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace cairn {

std::string base64_encode(std::string_view bytes);
// Errc::invalid_input unless `text` is the one canonical padded encoding of some bytes.
Expected<std::string> base64_decode(std::string_view text);

}  // namespace cairn
