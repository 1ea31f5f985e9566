// SHA-256 through OpenSSL's EVP interface, streaming or whole-file.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace cairn {

using Sha256Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256();
  void update(std::span<const std::uint8_t> data);
  void update(std::string_view data);
  Sha256Digest finish();

 private:
  struct Deleter {
    void operator()(void* ctx) const;
  };
  std::unique_ptr<void, Deleter> ctx_;
};

Sha256Digest sha256(std::span<const std::uint8_t> data);
Sha256Digest sha256(std::string_view data);
Expected<Sha256Digest> sha256_file(const std::filesystem::path& path);

std::string to_hex(std::span<const std::uint8_t> bytes);
// Fails on odd length or a non-hex character.
Expected<std::string> from_hex(std::string_view hex);
// True when `text` is exactly `length` lower-case hex digits: the one spelling of a digest that
// signed documents carry, so that two spellings of one digest never compare unequal.
bool is_lower_hex(std::string_view text, std::size_t length);

}  // namespace cairn
