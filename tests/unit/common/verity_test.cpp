#include "common/verity.hpp"

#include <catch2/catch.hpp>
#include <random>

#include "common/fs.hpp"
#include "common/process.hpp"

using namespace cairn;
namespace fs = std::filesystem;

namespace {

std::string random_bytes(std::size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(size, '\0');
  for (auto& c : out) c = static_cast<char>(rng());
  return out;
}

VerityParams test_params() {
  VerityParams params;
  for (std::uint8_t i = 0; i < 32; ++i) params.salt.push_back(static_cast<std::uint8_t>(i * 7));
  params.uuid = parse_uuid("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0").value();
  return params;
}

// Runs `veritysetup format` and returns its root hash.
std::string veritysetup_root_hash(const fs::path& data, const fs::path& hash,
                                  const VerityParams& params) {
  SystemProcessRunner runner;
  auto out = run_checked(
      runner, {.argv = {"veritysetup", "format", "--salt=" + to_hex(params.salt),
                        "--uuid=" + format_uuid(params.uuid), data.string(), hash.string()},
               .capture_stdout = true});
  REQUIRE(out.has_value());
  auto at = out->find("Root hash:");
  REQUIRE(at != std::string::npos);
  std::string rest = out->substr(at + 10);
  return rest.substr(rest.find_first_not_of(" \t"), 64);
}

}  // namespace

TEST_CASE("verity tree and root hash equal veritysetup's") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-verity-").value();
  auto params = test_params();
  // 1 block (no tree), 2 blocks, one full hash block, one more, several levels, odd counts.
  for (std::size_t blocks : {1u, 2u, 128u, 129u, 4097u, 16385u + 77u}) {
    DYNAMIC_SECTION(blocks << " blocks") {
      auto data = dir.path() / "data";
      REQUIRE(write_file_atomic(data, random_bytes(blocks * 4096, static_cast<unsigned>(blocks))));
      auto ours = build_verity_tree(data, dir.path() / "ours.hash", params);
      REQUIRE(ours.has_value());
      auto expected_root = veritysetup_root_hash(data, dir.path() / "theirs.hash", params);
      CHECK(ours->root_hash_hex() == expected_root);
      CHECK(ours->data_blocks == blocks);
      auto theirs = read_file(dir.path() / "theirs.hash").value();
      auto mine = read_file(dir.path() / "ours.hash").value();
      CHECK(mine.size() == theirs.size());
      CHECK(mine == theirs);
      CHECK(verify_verity(data, dir.path() / "ours.hash", expected_root).has_value());
    }
  }
}

TEST_CASE("streaming in odd-sized chunks gives the same tree") {
  auto params = test_params();
  auto data = random_bytes(300 * 4096, 9);
  VerityTreeBuilder whole(params), pieces(params);
  whole.update(std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
  std::size_t at = 0, step = 1;
  while (at < data.size()) {
    std::size_t n = std::min(step, data.size() - at);
    pieces.update(std::span(reinterpret_cast<const std::uint8_t*>(data.data()) + at, n));
    at += n;
    step = step * 3 + 1;
  }
  auto a = whole.finish(), b = pieces.finish();
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  CHECK(a->root_hash == b->root_hash);
  CHECK(a->hash_area == b->hash_area);
}

TEST_CASE("a flipped byte fails verification") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-verity-").value();
  auto data = dir.path() / "data";
  REQUIRE(write_file_atomic(data, random_bytes(64 * 4096, 3)));
  auto tree = build_verity_tree(data, dir.path() / "hash", test_params()).value();
  auto bytes = read_file(data).value();
  bytes[5 * 4096 + 17] ^= 0x01;
  REQUIRE(write_file_atomic(data, bytes));
  auto result = verify_verity(data, dir.path() / "hash", tree.root_hash_hex());
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::integrity);
}

TEST_CASE("partial blocks and empty data are refused") {
  VerityTreeBuilder builder(test_params());
  std::string odd(4097, 'x');
  builder.update(std::span(reinterpret_cast<const std::uint8_t*>(odd.data()), odd.size()));
  CHECK_FALSE(builder.finish().has_value());
  CHECK_FALSE(VerityTreeBuilder(test_params()).finish().has_value());
}

TEST_CASE("partition UUIDs are the halves of the root hash") {
  Sha256Digest root{};
  for (std::size_t i = 0; i < root.size(); ++i) root[i] = static_cast<std::uint8_t>(i);
  CHECK(verity_data_partition_uuid(root) == "00010203-0405-0607-0809-0a0b0c0d0e0f");
  CHECK(verity_hash_partition_uuid(root) == "10111213-1415-1617-1819-1a1b1c1d1e1f");
  CHECK_FALSE(parse_uuid("xyz").has_value());
}
