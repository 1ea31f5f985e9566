// A GPT as the updater finds it on the host's disk (read_gpt through libfdisk): the input is
// the disk, as a memfd.
#include "common/gpt.hpp"

#include <cstdint>

#include "common/version.hpp"
#include "fuzz_input.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static cairn::fuzz::MemFile disk;
  cairn::fuzz::Input input{{data, size}};
  disk.assign(input.text());
  auto gpt = cairn::read_gpt(disk.path());
  if (!gpt) return 0;
  // What the updater does with the partition names it reads: find its slots.
  for (const auto& partition : gpt->partitions) {
    cairn::version_of_root_partition(partition.label);
    cairn::check_gpt_name(partition.label);
  }
  return 0;
}
