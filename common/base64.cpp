#include "common/base64.hpp"

#include <openssl/evp.h>

#include <cctype>
#include <limits>

namespace cairn {

std::string base64_encode(std::string_view bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3), '\0');
  // EVP_EncodeBlock takes an int length; messages here are far below 2 GiB.
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(written));
  return text;
}

Expected<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock skips whitespace and counts padding as zero bytes, so the strict shape
  // (groups of four, alphabet only, '=' only as the last one or two) is checked here first.
  if (text.size() % 4 != 0) {
    return fail(Errc::invalid_input, "base64: length is not a multiple of 4");
  }
  if (text.size() > static_cast<std::size_t>(std::numeric_limits<int>::max())) {
    return fail(Errc::invalid_input, "base64: too long");
  }
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
  for (std::size_t i = 0; i < text.size() - padding; ++i) {
    char c = text[i];
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '/') {
      return fail(Errc::invalid_input, "base64: invalid character at offset " + std::to_string(i));
    }
  }
  std::string bytes(text.size() / 4 * 3, '\0');
  int decoded = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(bytes.data()),
                                reinterpret_cast<const unsigned char*>(text.data()),
                                static_cast<int>(text.size()));
  if (decoded < 0) return fail(Errc::invalid_input, "base64: malformed");
  bytes.resize(static_cast<std::size_t>(decoded) - padding);
  // Non-canonical encodings (stray bits in the last group) would let two strings name the same
  // bytes; a nonce compared as text must have exactly one spelling.
  if (base64_encode(bytes) != text) return fail(Errc::invalid_input, "base64: not canonical");
  return bytes;
}

}  // namespace cairn
