// PE/COFF as Cairn reads it: the UKI and stub section tables (parse_pe, pe_section_text), the
// Authenticode digest and the stub's PCR 11/12 predictions (files: the input as a memfd).
#include "common/pe.hpp"

#include <cstdint>

#include "builder/uki_measure.hpp"
#include "common/authenticode.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static cairn::fuzz::MemFile file;
  cairn::fuzz::Input input{{data, size}};
  std::string bytes(input.text());
  if (auto pe = cairn::parse_pe(bytes, "fuzz input")) {
    for (const auto& section : pe->sections) cairn::pe_section_text(bytes, *pe, section.name);
    cairn::plan_appended_sections(*pe, {1, 4096, 70000});
  }
  file.assign(bytes);
  cairn::authenticode_sha256(file.path());
  cairn::predict_uki_measurements(file.path());
  return 0;
}
