#include "attest/tpm/digests.hpp"

namespace cairn::attest::tpm {

Bytes digest(const EVP_MD* md, std::initializer_list<std::span<const std::uint8_t>> parts) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  Bytes out(static_cast<std::size_t>(EVP_MD_get_size(md)));
  unsigned int length = 0;
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), md, nullptr) == 1;
  for (auto part : parts) ok = ok && EVP_DigestUpdate(ctx.get(), part.data(), part.size()) == 1;
  ok = ok && EVP_DigestFinal_ex(ctx.get(), out.data(), &length) == 1;
  // Hashing in memory fails only when OpenSSL cannot allocate; there is no sensible recovery.
  if (!ok) std::abort();
  return out;
}

void put_u16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value));
}

void put_u32(Bytes& out, std::uint32_t value) {
  put_u16(out, static_cast<std::uint16_t>(value >> 16));
  put_u16(out, static_cast<std::uint16_t>(value));
}

void put_bytes(Bytes& out, std::span<const std::uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}

void put_sized(Bytes& out, std::span<const std::uint8_t> bytes) {
  put_u16(out, static_cast<std::uint16_t>(bytes.size()));
  put_bytes(out, bytes);
}

}  // namespace cairn::attest::tpm
