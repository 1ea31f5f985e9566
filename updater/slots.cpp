#include "updater/slots.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

#include "common/version.hpp"

namespace cairn::updater {

namespace {

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

std::string Slot::version() const { return version_of_root_partition(root.label).value_or(""); }

std::optional<char> SlotLayout::slot_with_root_uuid(std::string_view uuid) const {
  std::string wanted = lowercase(std::string(uuid));
  if (a.root.uuid == wanted) return 'A';
  if (b.root.uuid == wanted) return 'B';
  return std::nullopt;
}

Expected<SlotLayout> read_slot_layout(const std::filesystem::path& disk) {
  auto gpt = CAIRN_TRY(with_context(read_gpt(disk), "reading the slots of " + disk.string()));
  std::vector<GptPartition> roots, verities, esps;
  for (auto& partition : gpt.partitions) {
    partition.type_guid = lowercase(partition.type_guid);
    partition.uuid = lowercase(partition.uuid);
    if (partition.type_guid == kRootType) roots.push_back(partition);
    if (partition.type_guid == kRootVerityType) verities.push_back(partition);
    if (partition.type_guid == kEspType) esps.push_back(partition);
  }
  auto count = [&](const std::vector<GptPartition>& found, std::size_t want,
                   const char* what) -> Status {
    if (found.size() != want) {
      return fail(Errc::invalid_input, disk.string() + ": " + std::to_string(found.size()) + " " +
                                           what + " partitions, an A/B Cairn disk has " +
                                           std::to_string(want));
    }
    return {};
  };
  CAIRN_CHECK(count(roots, 2, "root (x86-64)"));
  CAIRN_CHECK(count(verities, 2, "root verity"));
  CAIRN_CHECK(count(esps, 1, "EFI system"));
  return SlotLayout{.disk = disk,
                    .esp = esps[0],
                    .a = {.name = 'A', .root = roots[0], .verity = verities[0]},
                    .b = {.name = 'B', .root = roots[1], .verity = verities[1]}};
}

}  // namespace cairn::updater
