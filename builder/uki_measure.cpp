#include "builder/uki_measure.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "common/eventlog.hpp"
#include "common/fs.hpp"
#include "common/golden_measurements.hpp"
#include "common/pe.hpp"

namespace cairn {

namespace {

// systemd 252 (pe.c, locate_sections) matches a section table entry when its name starts with
// the wanted name, and a later entry overrides an earlier one; mirror that, not PeImage::find.
const PeSection* locate(const PeImage& pe, std::string_view name) {
  const PeSection* found = nullptr;
  for (const auto& section : pe.sections) {
    if (section.name.starts_with(name)) found = &section;
  }
  return found;
}

// The section's bytes as the firmware's loader lays them out in memory, where the stub hashes
// them: the raw data up to VirtualSize, zero-filled beyond the raw data.
Expected<std::string> loaded_bytes(const std::string& file, const PeSection& section,
                                   const std::filesystem::path& path) {
  // A UKI's sections are data, not BSS: the loader zero-fills at most the alignment slack. A
  // header claiming gigabytes of zeros would have this allocate them (the fuzzer's 40-byte input).
  constexpr std::uint64_t kMaxZeroFill = 64 << 10;
  if (std::uint64_t{section.virtual_size} > std::uint64_t{section.raw_size} + kMaxZeroFill) {
    return fail(Errc::invalid_input, path.string() + ": UKI section " + section.name + " claims " +
                                         std::to_string(section.virtual_size) +
                                         " bytes in memory for " +
                                         std::to_string(section.raw_size) + " in the file");
  }
  std::uint64_t from_file = std::min(section.raw_size, section.virtual_size);
  if (std::uint64_t{section.raw_offset} + from_file > file.size()) {
    return fail(Errc::invalid_input, path.string() + ": UKI section " + section.name +
                                         " lies beyond the end of the file");
  }
  std::string bytes = file.substr(section.raw_offset, from_file);
  bytes.resize(section.virtual_size, '\0');
  return bytes;
}

// systemd-boot 252 (config_entry_add_unified) reads VirtualSize bytes of .cmdline from the file,
// replaces a final '\n' by NUL and converts up to the first NUL.
Expected<std::string> boot_load_options(const std::string& file, const PeSection& section,
                                        const std::filesystem::path& path) {
  if (section.virtual_size > section.raw_size ||
      std::uint64_t{section.raw_offset} + section.virtual_size > file.size()) {
    return fail(Errc::invalid_input,
                path.string() + ": the .cmdline section's size exceeds its data in the file");
  }
  std::string options = file.substr(section.raw_offset, section.virtual_size);
  if (!options.empty() && options.back() == '\n') options.back() = '\0';
  options.resize(std::min(options.size(), options.find('\0')));
  if (options.empty()) {
    // systemd-boot's handling of an empty command line is not something to predict.
    return fail(Errc::invalid_input, path.string() + ": the UKI's .cmdline is empty");
  }
  return options;
}

}  // namespace

Sha256Digest extend_sha256(const Sha256Digest& pcr, const Sha256Digest& digest) {
  auto next = tpm::extend(pcr, digest, tpm::kAlgSha256);
  Sha256Digest out{};
  std::copy_n(next.begin(), std::min(next.size(), out.size()), out.begin());
  return out;
}

Expected<std::string> load_options_utf16(std::string_view options) {
  std::string utf16;
  utf16.reserve(options.size() * 2 + 2);
  for (char c : options) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return fail(Errc::invalid_input,
                  "the kernel command line has a non-ASCII byte: systemd-boot's measurement of it "
                  "is not predicted");
    }
    utf16 += c;
    utf16 += '\0';
  }
  utf16.append(2, '\0');  // strsize16(): the terminating NUL character is measured too
  return utf16;
}

Expected<UkiMeasurements> predict_uki_measurements(const std::filesystem::path& uki) {
  auto pe = CAIRN_TRY(read_pe(uki));
  auto file = CAIRN_TRY(read_file(uki));
  if (!locate(pe, ".linux")) {
    return fail(Errc::invalid_input, uki.string() + ": no .linux section, so not a UKI");
  }
  UkiMeasurements out;
  Sha256Digest pcr{};
  for (std::string_view name : kStubMeasuredSections) {
    const PeSection* section = locate(pe, name);
    if (!section || section->virtual_size == 0) continue;  // the stub skips absent sections
    auto bytes = CAIRN_TRY(loaded_bytes(file, *section, uki));
    MeasuredSection measured{
        .name = std::string(name), .size = section->virtual_size, .digest = sha256(bytes)};
    // The name with its NUL, then the contents (systemd-stub 252, tpm_log_event_ascii twice).
    pcr = extend_sha256(pcr, sha256(std::string(name) + '\0'));
    pcr = extend_sha256(pcr, measured.digest);
    out.sections.push_back(std::move(measured));
  }
  out.pcr11_sections = pcr;
  // systemd-pcrphase extends SHA-256 of the phase word, without a NUL.
  for (std::string_view phase : kBootPhases) {
    pcr = extend_sha256(pcr, sha256(phase));
    out.pcr11_phases.emplace_back(std::string(phase), pcr);
  }

  const PeSection* cmdline = locate(pe, ".cmdline");
  if (!cmdline) return fail(Errc::invalid_input, uki.string() + ": no .cmdline section");
  out.load_options = CAIRN_TRY(boot_load_options(file, *cmdline, uki));
  auto utf16 = CAIRN_TRY(load_options_utf16(out.load_options));
  out.pcr12 = extend_sha256(Sha256Digest{}, sha256(utf16));
  return out;
}

}  // namespace cairn
