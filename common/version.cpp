#include "common/version.hpp"

#include <algorithm>
#include <charconv>

namespace cairn {

namespace {

constexpr std::string_view kEntrySuffix = ".efi";

bool is_version_start(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z'); }

bool is_version_char(char c) { return is_version_start(c) || c == '.' || c == '~' || c == '-'; }

// A boot counter: 1 to 4 decimal digits (systemd-boot's are small; this bounds the parse).
std::optional<unsigned> parse_counter(std::string_view text) {
  if (text.empty() || text.size() > 4) return std::nullopt;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

Status check_version(std::string_view version) {
  auto refuse = [&](std::string why) {
    return fail(Errc::invalid_input, "version '" + std::string(version) + "' " + why);
  };
  if (version.empty()) return fail(Errc::invalid_input, "the version is empty");
  if (version.size() > kMaxVersionLength) {
    return refuse("is " + std::to_string(version.size()) + " characters long: at most " +
                  std::to_string(kMaxVersionLength) + ", so that its verity partition's name (" +
                  std::to_string(verity_partition_name(version).size()) + " characters) fits the " +
                  std::to_string(kGptNameUnits) + " of a GPT partition name");
  }
  if (!is_version_start(version.front())) {
    return refuse("must start with a lowercase letter or a digit");
  }
  auto bad = std::ranges::find_if_not(version, is_version_char);
  if (bad != version.end()) {
    std::string why = "contains '" + std::string(1, *bad) + "'";
    if (*bad == '+') why += " (boot counting appends '+<tries>' to entry names)";
    if (*bad == '_') why += " ('_verity' ends the verity partition's name)";
    if (*bad >= 'A' && *bad <= 'Z') why += " (the ESP's FAT file system folds case)";
    return refuse(why + ": use lowercase letters, digits, '.', '~' and '-'");
  }
  if (version == "empty") return refuse("is reserved: cairn_empty names a retired slot");
  return {};
}

std::string root_partition_name(std::string_view version) {
  return std::string(kSlotNamePrefix) + std::string(version);
}

std::string verity_partition_name(std::string_view version) {
  return root_partition_name(version) + std::string(kVeritySuffix);
}

std::optional<std::string> version_of_root_partition(std::string_view gpt_name) {
  if (!gpt_name.starts_with(kSlotNamePrefix)) return std::nullopt;
  std::string_view version = gpt_name.substr(kSlotNamePrefix.size());
  if (!check_version(version)) return std::nullopt;
  return std::string(version);
}

std::string BootEntryName::file_name() const {
  std::string name = root_partition_name(version);
  if (tries_left) {
    name += "+" + std::to_string(*tries_left);
    if (tries_done) name += "-" + std::to_string(*tries_done);
  }
  return name + std::string(kEntrySuffix);
}

std::optional<BootEntryName> parse_boot_entry_name(std::string_view file_name) {
  if (!file_name.starts_with(kSlotNamePrefix) || !file_name.ends_with(kEntrySuffix)) {
    return std::nullopt;
  }
  std::string_view stem = file_name.substr(
      kSlotNamePrefix.size(), file_name.size() - kSlotNamePrefix.size() - kEntrySuffix.size());
  BootEntryName entry;
  std::size_t plus = stem.find('+');
  entry.version = std::string(stem.substr(0, plus));
  if (!check_version(entry.version)) return std::nullopt;
  if (plus == std::string_view::npos) return entry;
  std::string_view counters = stem.substr(plus + 1);
  std::size_t dash = counters.find('-');
  entry.tries_left = parse_counter(counters.substr(0, dash));
  if (!entry.tries_left) return std::nullopt;
  if (dash != std::string_view::npos) {
    entry.tries_done = parse_counter(counters.substr(dash + 1));
    if (!entry.tries_done) return std::nullopt;
  }
  return entry;
}

std::string new_entry_name(std::string_view version) {
  return BootEntryName{.version = std::string(version), .tries_left = 3, .tries_done = 0}
      .file_name();
}

std::string spent_entry_name(std::string_view version) {
  return BootEntryName{.version = std::string(version), .tries_left = 0, .tries_done = 0}
      .file_name();
}

bool entry_is_version(std::string_view file_name, std::string_view version) {
  auto entry = parse_boot_entry_name(file_name);
  return entry && entry->version == version;
}

namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
int sign(bool a_first, bool b_first) { return a_first == b_first ? 0 : (a_first ? -1 : 1); }

}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  for (;;) {
    // Only the characters the grammar knows separate or carry meaning.
    auto skip = [](std::string_view& s) {
      while (!s.empty() && !is_digit(s[0]) && !is_letter(s[0]) && s[0] != '~' && s[0] != '-' &&
             s[0] != '.') {
        s.remove_prefix(1);
      }
    };
    skip(a);
    skip(b);
    // '~' (a pre-release) sorts before everything, the end included.
    bool a_tilde = !a.empty() && a[0] == '~', b_tilde = !b.empty() && b[0] == '~';
    if (a_tilde || b_tilde) {
      if (int r = sign(a_tilde, b_tilde)) return r;
      a.remove_prefix(1);
      b.remove_prefix(1);
      continue;
    }
    if (a.empty() || b.empty()) return sign(a.empty(), b.empty());
    // '-' (a release suffix) sorts before '.': "2.0-1" < "2.0.1".
    if (a[0] == '-' || b[0] == '-') {
      if (int r = sign(a[0] == '-', b[0] == '-')) return r;
      a.remove_prefix(1);
      b.remove_prefix(1);
      continue;
    }
    if (a[0] == '.' || b[0] == '.') {
      if (int r = -sign(a[0] == '.', b[0] == '.')) return r;
      a.remove_prefix(1);
      b.remove_prefix(1);
      continue;
    }
    // A number is newer than a word: "2.0.1" > "2.0.rc".
    if (is_digit(a[0]) || is_digit(b[0])) {
      if (int r = -sign(is_digit(a[0]), is_digit(b[0]))) return r;
      auto take = [](std::string_view& s) {
        while (s.size() > 1 && s[0] == '0' && is_digit(s[1])) s.remove_prefix(1);
        std::size_t n = 0;
        while (n < s.size() && is_digit(s[n])) ++n;
        auto number = s.substr(0, n);
        s.remove_prefix(n);
        return number;
      };
      auto x = take(a), y = take(b);
      if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
      if (int r = x.compare(y)) return r < 0 ? -1 : 1;
      continue;
    }
    std::size_t n = 0, m = 0;
    while (n < a.size() && is_letter(a[n])) ++n;
    while (m < b.size() && is_letter(b[m])) ++m;
    if (int r = a.substr(0, n).compare(b.substr(0, m))) return r < 0 ? -1 : 1;
    a.remove_prefix(n);
    b.remove_prefix(m);
  }
}

}  // namespace cairn
