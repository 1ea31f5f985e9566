// Little-endian integers at a byte offset, as PE/COFF stores them. The caller checks bounds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cairn {

template <class T>
T read_le(std::string_view data, std::size_t offset) {
  T value = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<T>(static_cast<T>(static_cast<std::uint8_t>(data[offset + i])) << (8 * i));
  }
  return value;
}

inline std::uint32_t le32(std::string_view data, std::size_t offset) {
  return read_le<std::uint32_t>(data, offset);
}
inline std::uint16_t le16(std::string_view data, std::size_t offset) {
  return read_le<std::uint16_t>(data, offset);
}

}  // namespace cairn
