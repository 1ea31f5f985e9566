// Versions and the names derived from them (boot entries on the ESP, GPT slot names), which the
// updater reads back from disks and ESPs it did not necessarily write.
#include "common/version.hpp"

#include <cstdint>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn::fuzz::Input input{{data, size}};
  std::string_view text = input.text();
  bool valid = cairn::check_version(text).has_value();
  // A valid version's names parse back to it; nothing else yields a version.
  auto from_root = cairn::version_of_root_partition(cairn::root_partition_name(text));
  if (valid != from_root.has_value() || (from_root && *from_root != text)) __builtin_trap();
  if (valid && !cairn::entry_is_version(cairn::new_entry_name(text), text)) __builtin_trap();
  if (valid && !cairn::parse_boot_entry_name(cairn::spent_entry_name(text))->spent()) {
    __builtin_trap();
  }
  cairn::version_of_root_partition(text);
  if (auto entry = cairn::parse_boot_entry_name(text)) {
    if (!cairn::check_version(entry->version)) __builtin_trap();
    auto again = cairn::parse_boot_entry_name(entry->file_name());
    if (!again || again->version != entry->version || again->tries_left != entry->tries_left ||
        again->tries_done != entry->tries_done) {
      __builtin_trap();
    }
  }
  return 0;
}
