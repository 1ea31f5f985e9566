// Stage 4: the slot image — an erofs file system made from a checkout of the OSTree commit
// (fixed timestamp and UUID: same input, same bytes), then its dm-verity hash tree.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/hash.hpp"
#include "common/process.hpp"
#include "common/progress.hpp"

namespace cairn::builder {

struct SlotImageInput {
  std::filesystem::path tree;        // a checkout of the commit
  std::filesystem::path output_dir;  // gets root.erofs and root.verity
  // The OSTree tree checksum (not the commit's: that one also names the parent and time).
  // Seeds the UUIDs and the verity salt.
  std::string tree_checksum;
  std::int64_t source_date_epoch = 0;
};

struct SlotImageOutput {
  std::filesystem::path erofs, verity;
  std::uint64_t erofs_size = 0, verity_size = 0;
  Sha256Digest root_hash{};
  std::string salt;  // hex
};

Expected<SlotImageOutput> build_slot_image(const SlotImageInput& input, ProcessRunner& runner,
                                           Progress& progress);

}  // namespace cairn::builder
