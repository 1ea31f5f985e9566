#include "common/hash.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "common/fs.hpp"

namespace cairn {

void Sha256::Deleter::operator()(void* ctx) const {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx));
}

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_.get()), EVP_sha256(), nullptr);
}

void Sha256::update(std::span<const std::uint8_t> data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_.get()), data.data(), data.size());
}

void Sha256::update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_.get()), data.data(), data.size());
}

Sha256Digest Sha256::finish() {
  Sha256Digest digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_.get()), digest.data(), &length);
  return digest;
}

Sha256Digest sha256(std::span<const std::uint8_t> data) {
  Sha256 hasher;
  hasher.update(data);
  return hasher.finish();
}

Sha256Digest sha256(std::string_view data) {
  Sha256 hasher;
  hasher.update(data);
  return hasher.finish();
}

Expected<Sha256Digest> sha256_file(const std::filesystem::path& path) {
  auto fd = CAIRN_TRY(open_file(path, O_RDONLY));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("stat " + path.string(), errno);
  const auto size = static_cast<off_t>(st.st_size);
  Sha256 hasher;
  std::vector<std::uint8_t> buffer(std::size_t{1} << 20);
  static const std::vector<std::uint8_t> kZeros(std::size_t{1} << 20, 0);
  // Disk images are mostly holes (empty slot B, var): hash those from a zero buffer instead of
  // reading them, which is several times faster.
  off_t at = 0;
  while (at < size) {
    off_t data = ::lseek(fd.get(), at, SEEK_DATA);
    if (data < 0) data = (errno == ENXIO) ? size : at;  // ENXIO: only a hole remains
    for (; at < data; at += static_cast<off_t>(kZeros.size())) {
      hasher.update(std::span(kZeros.data(), static_cast<std::size_t>(std::min<off_t>(
                                                 data - at, static_cast<off_t>(kZeros.size())))));
    }
    at = data;
    if (at >= size) break;
    off_t hole = ::lseek(fd.get(), at, SEEK_HOLE);
    if (hole < 0) hole = size;
    while (at < hole) {
      auto want =
          static_cast<std::size_t>(std::min<off_t>(hole - at, static_cast<off_t>(buffer.size())));
      ssize_t n = ::pread(fd.get(), buffer.data(), want, at);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("read " + path.string(), errno);
      if (n == 0) return fail(Errc::io, path.string() + " shrank while being hashed");
      hasher.update(std::span(buffer.data(), static_cast<std::size_t>(n)));
      at += n;
    }
  }
  return hasher.finish();
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (auto byte : bytes) {
    out += kDigits[byte >> 4];
    out += kDigits[byte & 0xf];
  }
  return out;
}

Expected<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return fail(Errc::invalid_input, "odd-length hex string");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return fail(Errc::invalid_input, "not a hex string: " + std::string(hex));
    out += static_cast<char>((hi << 4) | lo);
  }
  return out;
}

bool is_lower_hex(std::string_view text, std::size_t length) {
  return text.size() == length && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace cairn
