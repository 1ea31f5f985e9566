// os-release as read from an image's root and from a UKI's .osrel section.
#include "common/os_release.hpp"

#include <cstdint>

#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn::fuzz::Input input{{data, size}};
  std::string_view text = input.text();
  cairn::image_security_version(text, "fuzz input");
  for (std::string_view key : {"ID", "VERSION_ID", "IMAGE_VERSION", "PRETTY_NAME"}) {
    cairn::os_release_field(text, key);
  }
  return 0;
}
