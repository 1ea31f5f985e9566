// Image versions and every name Cairn derives from one, in one place: cairn-build, the manifest
// reader and the updater's ESP and slot code all go through here, so a version one of them
// accepts can never turn into a name another one misreads.
//
// Grammar: [0-9a-z][0-9a-z.~-]*, at most kMaxVersionLength characters, not "empty".
// - No '+': boot counting appends "+<left>-<done>" to entry names; a '+' in the version would
//   make "cairn_1.0+3-0.efi" mean two things.
// - No '_': "cairn_<v>_verity" names the verity partition; a '_' would let one version's root
//   name be another's verity name.
// - No capitals: the ESP is FAT, which folds case, so "1.0-RC1" and "1.0-rc1" would be one file.
// - Not "empty": "cairn_empty" names a retired slot.
// - Length: "cairn_<v>_verity" must fit a GPT partition name (36 UTF-16 units), uncut.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "common/error.hpp"
#include "common/gpt.hpp"

namespace cairn {

inline constexpr std::string_view kSlotNamePrefix = "cairn_";
inline constexpr std::string_view kVeritySuffix = "_verity";
inline constexpr std::size_t kMaxVersionLength =
    kGptNameUnits - kSlotNamePrefix.size() - kVeritySuffix.size();

// Errc::invalid_input naming the rule `version` breaks.
Status check_version(std::string_view version);

// Orders two versions as the UAPI Version Format Specification does (systemd's
// strverscmp_improved): numbers numerically, letters alphabetically, '~' before anything (even
// the end: "2.0~rc1" < "2.0"), a longer version after its prefix ("2.0" < "2.0-1" < "2.0.1":
// '-' sorts before '.'). Returns <0, 0 or >0.
int compare_versions(std::string_view a, std::string_view b);

// GPT names of a slot holding `version`: "cairn_<v>" and "cairn_<v>_verity".
std::string root_partition_name(std::string_view version);
std::string verity_partition_name(std::string_view version);
// GPT names of a retired slot: it holds no version and has no boot entry.
inline constexpr std::string_view kEmptyRootName = "cairn_empty";
inline constexpr std::string_view kEmptyVerityName = "cairn_empty_verity";
// The version a root partition's GPT name holds; nullopt for "cairn_empty" or a foreign name.
std::optional<std::string> version_of_root_partition(std::string_view gpt_name);

// A Boot Loader Specification type-2 entry Cairn writes: EFI/Linux/cairn_<v>[+<left>[-<done>]].efi
struct BootEntryName {
  std::string version;
  std::optional<unsigned> tries_left;  // none: no boot counting (a committed entry)
  std::optional<unsigned> tries_done;

  // True when systemd-boot would never choose it by default: "+0" or "+0-N".
  bool spent() const { return tries_left == 0u; }
  std::string file_name() const;
};

// Parses a file name exactly; nullopt for anything that is not a Cairn entry with a valid
// version (a name is never matched by its prefix).
std::optional<BootEntryName> parse_boot_entry_name(std::string_view file_name);
// "cairn_<v>+3-0.efi": a new entry with three tries.
std::string new_entry_name(std::string_view version);
// "cairn_<v>+0-0.efi": no tries left, sorted after every other entry (in the menu, never the
// default).
std::string spent_entry_name(std::string_view version);
// True when `file_name` is an entry booting exactly `version`.
bool entry_is_version(std::string_view file_name, std::string_view version);

}  // namespace cairn
