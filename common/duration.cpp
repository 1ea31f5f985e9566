#include "common/duration.hpp"

#include <charconv>
#include <cstdint>
#include <map>

namespace cairn {

Expected<std::chrono::seconds> parse_duration(std::string_view text) {
  std::uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  if (ec != std::errc() || end == text.data()) {
    return fail(Errc::invalid_input, "'" + std::string(text) + "' is not a duration");
  }
  static const std::map<std::string_view, std::uint64_t, std::less<>> kMillis = {
      {"", 1000},     {"s", 1000},    {"sec", 1000},     {"ms", 1},       {"m", 60000},
      {"min", 60000}, {"h", 3600000}, {"hour", 3600000}, {"d", 86400000}, {"day", 86400000}};
  auto it = kMillis.find(unit);
  if (it == kMillis.end()) {
    return fail(Errc::invalid_input,
                "'" + std::string(text) + "' has an unknown unit (use ms, s, min, h or d)");
  }
  // Years of seconds fit easily; a number that would wrap the product is not a duration anyone
  // meant.
  if (number > UINT64_MAX / it->second / 2) {
    return fail(Errc::invalid_input, "'" + std::string(text) + "' is too long a duration");
  }
  return std::chrono::seconds((number * it->second + 999) / 1000);
}

std::string format_duration(std::chrono::seconds duration) {
  auto seconds = duration.count();
  for (auto [unit, size] : {std::pair{"d", 86400}, {"h", 3600}, {"min", 60}}) {
    if (seconds != 0 && seconds % size == 0) return std::to_string(seconds / size) + unit;
  }
  return std::to_string(seconds) + "s";
}

}  // namespace cairn
