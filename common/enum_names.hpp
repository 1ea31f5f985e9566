// An enum's names as one table of {value, name} pairs, looked up both ways: the names are what
// files and the command line carry (state.json's phase, history.json's outcome).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>
#include <utility>

namespace cairn {

template <typename Enum, std::size_t N>
std::string_view enum_name(const std::pair<Enum, std::string_view> (&table)[N], Enum value) {
  for (const auto& [entry, name] : table) {
    if (entry == value) return name;
  }
  return "unknown";
}

template <typename Enum, std::size_t N>
std::optional<Enum> enum_from_name(const std::pair<Enum, std::string_view> (&table)[N],
                                   std::string_view name) {
  for (const auto& [entry, text] : table) {
    if (text == name) return entry;
  }
  return std::nullopt;
}

}  // namespace cairn
