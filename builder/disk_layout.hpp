// Disk layouts as data (images/*.toml) and the concrete GPT of one image: labels from the
// version, slot-A UUIDs from the root hash (content-addressed identity), the rest derived
// stably from the image.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "builder/recipe.hpp"
#include "common/gpt.hpp"
#include "common/hash.hpp"

namespace cairn::builder {

struct LayoutEntry {
  std::string role;  // esp, root-a, verity-a, root-b, verity-b, var
  std::string type_guid;
  std::uint64_t size_bytes = 0;
  bool read_only = false;
};

struct DiskLayout {
  std::string name;
  std::vector<LayoutEntry> partitions;

  const LayoutEntry* find(std::string_view role) const;
};

// "512M", "2G", "1024K" or plain bytes.
Expected<std::uint64_t> parse_size(std::string_view text);

// Loads images/<name>.toml and applies the recipe's size overrides.
Expected<DiskLayout> load_disk_layout(const std::filesystem::path& file, const DiskSizes& sizes);

// The GPT for an image whose slot A holds `version` with `root_hash`. The partition label
// `var` is fixed: the image's fstab mounts PARTLABEL=var.
Expected<GptDisk> image_disk(const DiskLayout& layout, const std::string& image_name,
                             const std::string& version, const Sha256Digest& root_hash);

}  // namespace cairn::builder
