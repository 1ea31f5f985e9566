#include "attest/verifier/uefi_variable.hpp"

#include <algorithm>

namespace cairn::attest::verifier {

namespace {

std::uint64_t read_u64(std::span<const std::uint8_t> bytes) {
  std::uint64_t value = 0;
  for (std::size_t i = 8; i-- > 0;) value = value << 8 | bytes[i];
  return value;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<Guid> guid_from_text(std::string_view text) {
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' ||
      text[23] != '-') {
    return std::nullopt;
  }
  std::array<std::uint8_t, 16> written{};  // the bytes in the order the text shows them
  std::size_t at = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    int high = hex_digit(text[i]), low = hex_digit(text[i + 1]);
    if (high < 0 || low < 0) return std::nullopt;
    written[at++] = static_cast<std::uint8_t>(high << 4 | low);
    ++i;
  }
  Guid guid{};
  constexpr std::array<std::size_t, 16> kOrder = {3, 2, 1,  0,  5,  4,  7,  6,
                                                  8, 9, 10, 11, 12, 13, 14, 15};
  for (std::size_t i = 0; i < 16; ++i) guid[i] = written[kOrder[i]];
  return guid;
}

Expected<UefiVariable> parse_uefi_variable(std::span<const std::uint8_t> event_data) {
  constexpr std::size_t kHeader = 16 + 8 + 8;
  if (event_data.size() < kHeader) {
    return fail(Errc::integrity, "UEFI_VARIABLE_DATA of " + std::to_string(event_data.size()) +
                                     " bytes is shorter than its header");
  }
  std::uint64_t name_chars = read_u64(event_data.subspan(16, 8));
  std::uint64_t data_size = read_u64(event_data.subspan(24, 8));
  std::uint64_t left = event_data.size() - kHeader;
  // Compared without multiplying first, so huge lengths cannot wrap around.
  if (name_chars > left / 2 || data_size != left - 2 * name_chars) {
    return fail(Errc::integrity, "UEFI_VARIABLE_DATA lengths (name " + std::to_string(name_chars) +
                                     " chars, data " + std::to_string(data_size) +
                                     " bytes) disagree with its " +
                                     std::to_string(event_data.size()) + " bytes");
  }
  UefiVariable variable;
  std::copy_n(event_data.begin(), 16, variable.guid.begin());
  auto name = event_data.subspan(kHeader, 2 * name_chars);
  for (std::size_t i = 0; i < name.size(); i += 2) {
    unsigned unit = name[i] | static_cast<unsigned>(name[i + 1]) << 8;
    variable.name += unit >= 0x20 && unit < 0x7f ? static_cast<char>(unit) : '?';
  }
  auto data = event_data.subspan(kHeader + 2 * name_chars);
  variable.data.assign(data.begin(), data.end());
  return variable;
}

}  // namespace cairn::attest::verifier
