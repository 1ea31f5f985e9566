#include "common/verity.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "common/fs.hpp"
#include "common/openssl.hpp"

namespace cairn {

namespace {

constexpr std::size_t kSuperblockSize = 512;
constexpr std::size_t kDigestSize = 32;

// cryptsetup's struct verity_sb, little-endian.
std::string make_superblock(const VerityParams& params, std::uint64_t data_blocks) {
  std::string sb(kSuperblockSize, '\0');
  auto put = [&](std::size_t offset, std::uint64_t value, std::size_t bytes) {
    for (std::size_t i = 0; i < bytes; ++i) sb[offset + i] = static_cast<char>(value >> (8 * i));
  };
  std::memcpy(sb.data(), "verity\0\0", 8);
  put(8, 1, 4);   // superblock version
  put(12, 1, 4);  // hash type 1: normal (salt first)
  std::memcpy(sb.data() + 16, params.uuid.data(), 16);
  std::memcpy(sb.data() + 32, "sha256", 6);  // algorithm[32]
  put(64, params.block_size, 4);             // data block size
  put(68, params.block_size, 4);             // hash block size
  put(72, data_blocks, 8);
  put(80, params.salt.size(), 2);
  std::memcpy(sb.data() + 88, params.salt.data(), params.salt.size());  // salt[256]
  return sb;
}

class Hasher {
 public:
  explicit Hasher(std::span<const std::uint8_t> salt) : ctx_(EVP_MD_CTX_new()), salt_(salt) {}
  Sha256Digest digest(std::span<const std::uint8_t> block) {
    Sha256Digest out{};
    EVP_DigestInit_ex(ctx_.get(), EVP_sha256(), nullptr);
    EVP_DigestUpdate(ctx_.get(), salt_.data(), salt_.size());
    EVP_DigestUpdate(ctx_.get(), block.data(), block.size());
    EVP_DigestFinal_ex(ctx_.get(), out.data(), nullptr);
    return out;
  }

 private:
  EvpMdCtxPtr ctx_;
  std::span<const std::uint8_t> salt_;
};

}  // namespace

VerityTreeBuilder::VerityTreeBuilder(VerityParams params) : params_(std::move(params)) {}

void VerityTreeBuilder::update(std::span<const std::uint8_t> data) {
  const std::size_t block = params_.block_size;
  Hasher hasher(params_.salt);
  if (!partial_.empty()) {
    std::size_t take = std::min(block - partial_.size(), data.size());
    partial_.insert(partial_.end(), data.begin(), data.begin() + static_cast<long>(take));
    data = data.subspan(take);
    if (partial_.size() < block) return;
    level0_.push_back(hasher.digest(partial_));
    partial_.clear();
  }
  while (data.size() >= block) {
    level0_.push_back(hasher.digest(data.first(block)));
    data = data.subspan(block);
  }
  partial_.assign(data.begin(), data.end());
}

Expected<VerityTree> VerityTreeBuilder::finish() {
  if (!partial_.empty()) {
    return fail(Errc::invalid_input, "dm-verity data is not a whole number of " +
                                         std::to_string(params_.block_size) + "-byte blocks");
  }
  if (level0_.empty()) return fail(Errc::invalid_input, "dm-verity data is empty");
  if (params_.salt.size() > 256) return fail(Errc::invalid_input, "dm-verity salt over 256 bytes");
  const std::size_t block = params_.block_size;
  const std::size_t per_block = block / kDigestSize;
  Hasher hasher(params_.salt);

  // levels[0] holds the hash blocks over the data, levels[i] those over levels[i-1].
  std::vector<std::string> levels;
  std::vector<Sha256Digest> current = level0_;
  while (current.size() > 1) {
    std::string level;
    std::vector<Sha256Digest> next;
    for (std::size_t i = 0; i < current.size(); i += per_block) {
      std::string hash_block(block, '\0');
      std::size_t count = std::min(per_block, current.size() - i);
      for (std::size_t j = 0; j < count; ++j) {
        std::memcpy(hash_block.data() + j * kDigestSize, current[i + j].data(), kDigestSize);
      }
      next.push_back(hasher.digest(
          std::span(reinterpret_cast<const std::uint8_t*>(hash_block.data()), block)));
      level += hash_block;
    }
    levels.push_back(std::move(level));
    current = std::move(next);
  }
  VerityTree tree;
  tree.data_blocks = level0_.size();
  // A single data block has no tree: its own digest is the root (as cryptsetup does).
  tree.root_hash = current[0];
  std::string superblock = make_superblock(params_, tree.data_blocks);
  superblock.resize(block, '\0');
  tree.hash_area = std::move(superblock);
  for (auto it = levels.rbegin(); it != levels.rend(); ++it) tree.hash_area += *it;
  return tree;
}

namespace {

// Hashes `length` bytes of `fd` from `offset` (length 0: to the end of the file).
Expected<VerityTree> hash_range(int fd, std::uint64_t offset, std::uint64_t length,
                                const VerityParams& params, const std::string& name) {
  ::posix_fadvise(fd, static_cast<off_t>(offset), static_cast<off_t>(length),
                  POSIX_FADV_SEQUENTIAL);
  VerityTreeBuilder builder(params);
  std::vector<std::uint8_t> buffer(std::size_t{4} << 20);
  std::uint64_t done = 0;
  for (;;) {
    std::size_t want = buffer.size();
    if (length && length - done < want) want = static_cast<std::size_t>(length - done);
    if (want == 0) break;
    ssize_t n = ::pread(fd, buffer.data(), want, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read " + name, errno);
    if (n == 0) {
      if (length) return fail(Errc::integrity, name + " ends before the data the tree covers");
      break;
    }
    builder.update(std::span(buffer.data(), static_cast<std::size_t>(n)));
    done += static_cast<std::uint64_t>(n);
  }
  return with_context(builder.finish(), "hashing " + name);
}

Expected<std::string> read_at(const std::filesystem::path& path, std::uint64_t offset,
                              std::size_t size) {
  auto fd = CAIRN_TRY(open_file(path, O_RDONLY));
  std::string out(size, '\0');
  std::size_t done = 0;
  while (done < size) {
    ssize_t n =
        ::pread(fd.get(), out.data() + done, size - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("read " + path.string(), errno);
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  out.resize(done);
  return out;
}

}  // namespace

Expected<VerityTree> build_verity_tree(const std::filesystem::path& data_file,
                                       const std::filesystem::path& hash_file,
                                       const VerityParams& params) {
  auto fd = CAIRN_TRY(open_file(data_file, O_RDONLY));
  auto tree = CAIRN_TRY(hash_range(fd.get(), 0, 0, params, data_file.string()));
  CAIRN_CHECK(write_file_atomic(hash_file, tree.hash_area));
  return tree;
}

Status verify_verity(const std::filesystem::path& data_file, const std::filesystem::path& hash_file,
                     std::string_view root_hash_hex, std::uint64_t data_offset,
                     std::uint64_t hash_offset) {
  auto sb = CAIRN_TRY(read_at(hash_file, hash_offset, kSuperblockSize));
  if (sb.size() < kSuperblockSize || sb.compare(0, 6, "verity") != 0) {
    return fail(Errc::integrity, hash_file.string() + " has no dm-verity superblock");
  }
  auto byte = [&](std::size_t i) { return static_cast<std::uint8_t>(sb[i]); };
  VerityParams params;
  std::memcpy(params.uuid.data(), sb.data() + 16, 16);
  params.block_size =
      byte(64) | byte(65) << 8 | byte(66) << 16 | static_cast<std::uint32_t>(byte(67)) << 24;
  std::size_t salt_size = byte(80) | byte(81) << 8;
  if (salt_size > 256 || params.block_size == 0 || params.block_size % 512 != 0) {
    return fail(Errc::integrity, hash_file.string() + " has a corrupt dm-verity superblock");
  }
  params.salt.assign(sb.begin() + 88, sb.begin() + 88 + static_cast<long>(salt_size));
  std::uint64_t data_blocks = 0;
  for (int i = 7; i >= 0; --i)
    data_blocks = data_blocks << 8 | byte(72 + static_cast<std::size_t>(i));
  if (data_blocks == 0) return fail(Errc::integrity, hash_file.string() + ": empty verity tree");

  auto fd = CAIRN_TRY(open_file(data_file, O_RDONLY));
  auto tree = CAIRN_TRY(hash_range(fd.get(), data_offset, data_blocks * params.block_size, params,
                                   data_file.string()));
  if (tree.root_hash_hex() != root_hash_hex) {
    return fail(Errc::integrity, data_file.string() + " does not match root hash " +
                                     std::string(root_hash_hex) + " (computed " +
                                     tree.root_hash_hex() + ")");
  }
  auto stored = CAIRN_TRY(read_at(hash_file, hash_offset, tree.hash_area.size()));
  if (stored != tree.hash_area) {
    return fail(Errc::integrity, hash_file.string() + ": stored hash tree differs from its data");
  }
  return {};
}

std::string format_uuid(std::span<const std::uint8_t, 16> bytes) {
  std::string hex = to_hex(bytes);
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" +
         hex.substr(16, 4) + "-" + hex.substr(20, 12);
}

Expected<std::array<std::uint8_t, 16>> parse_uuid(std::string_view text) {
  std::string hex;
  for (char c : text) {
    if (c != '-') hex += c;
  }
  auto bytes = CAIRN_TRY(from_hex(hex));
  if (bytes.size() != 16) return fail(Errc::invalid_input, "not a UUID: " + std::string(text));
  std::array<std::uint8_t, 16> out{};
  std::memcpy(out.data(), bytes.data(), 16);
  return out;
}

std::string verity_data_partition_uuid(const Sha256Digest& root_hash) {
  return format_uuid(std::span<const std::uint8_t, 16>(root_hash.data(), 16));
}

std::string verity_hash_partition_uuid(const Sha256Digest& root_hash) {
  return format_uuid(std::span<const std::uint8_t, 16>(root_hash.data() + 16, 16));
}

}  // namespace cairn
