// dm-verity hash trees (format 1, sha256, with the veritysetup superblock), computed in one
// streaming pass so the builder and the updater can hash a slot while they write it. The output
// is byte-identical to `veritysetup format --salt=… --uuid=…` for the same data.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/hash.hpp"

namespace cairn {

struct VerityParams {
  std::vector<std::uint8_t> salt;       // up to 256 bytes
  std::array<std::uint8_t, 16> uuid{};  // stored in the superblock
  std::uint32_t block_size = 4096;      // data and hash blocks
};

struct VerityTree {
  Sha256Digest root_hash{};
  std::uint64_t data_blocks = 0;
  std::string hash_area;  // the whole hash file: superblock block, then levels top-down

  std::string root_hash_hex() const { return to_hex(root_hash); }
};

// Feed the data in order (any chunking), then finish(). Data must be a whole number of blocks.
class VerityTreeBuilder {
 public:
  explicit VerityTreeBuilder(VerityParams params);
  void update(std::span<const std::uint8_t> data);
  Expected<VerityTree> finish();

 private:
  VerityParams params_;
  std::vector<std::uint8_t> partial_;  // an incomplete data block carried between updates
  std::vector<Sha256Digest> level0_;   // one digest per data block
};

// Hashes `data_file` and writes its hash file to `hash_file`.
Expected<VerityTree> build_verity_tree(const std::filesystem::path& data_file,
                                       const std::filesystem::path& hash_file,
                                       const VerityParams& params);

// Recomputes the tree over the data the superblock at `hash_offset` of `hash_file` describes
// (starting at `data_offset` of `data_file`: partitions of one disk image work too) and compares
// the stored tree and the root hash. Errc::integrity names what differs.
Status verify_verity(const std::filesystem::path& data_file, const std::filesystem::path& hash_file,
                     std::string_view root_hash_hex, std::uint64_t data_offset = 0,
                     std::uint64_t hash_offset = 0);

// "8-4-4-4-12" text of 16 bytes, in order.
std::string format_uuid(std::span<const std::uint8_t, 16> bytes);
Expected<std::array<std::uint8_t, 16>> parse_uuid(std::string_view text);

// Partition UUIDs per the Discoverable Partitions Specification (as systemd-repart): the data
// partition takes the first 128 bits of the root hash, the hash partition the last 128.
std::string verity_data_partition_uuid(const Sha256Digest& root_hash);
std::string verity_hash_partition_uuid(const Sha256Digest& root_hash);

}  // namespace cairn
