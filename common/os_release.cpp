#include "common/os_release.hpp"

#include <charconv>

namespace cairn {

std::optional<std::string> os_release_field(std::string_view text, std::string_view key) {
  std::optional<std::string> found;
  while (!text.empty()) {
    std::size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.starts_with(key) || line.size() <= key.size() || line[key.size()] != '=') continue;
    std::string_view value = line.substr(key.size() + 1);
    if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
        value.back() == value.front()) {
      value = value.substr(1, value.size() - 2);
    }
    found = std::string(value);  // the last assignment wins, as when the file is sourced
  }
  return found;
}

Expected<std::uint64_t> image_security_version(std::string_view os_release,
                                               std::string_view where) {
  auto text = os_release_field(os_release, kSecurityVersionField);
  if (!text) return 0;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (text->empty() || ec != std::errc() || end != text->data() + text->size()) {
    return fail(Errc::invalid_input, std::string(where) + ": " +
                                         std::string(kSecurityVersionField) + "='" + *text +
                                         "' is not a security version");
  }
  return value;
}

}  // namespace cairn
