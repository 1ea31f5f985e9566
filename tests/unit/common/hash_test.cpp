#include "common/hash.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace cairn;

TEST_CASE("sha256 of a known string") {
  CHECK(to_hex(sha256(std::string_view("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("hex round trip and bad hex") {
  auto bytes = from_hex("00ff10");
  REQUIRE(bytes.has_value());
  CHECK(bytes->size() == 3);
  CHECK(static_cast<unsigned char>((*bytes)[1]) == 0xff);
  CHECK_FALSE(from_hex("0g").has_value());
  CHECK_FALSE(from_hex("abc").has_value());
}

TEST_CASE("sha256_file hashes holes as zeros: a sparse file equals its dense copy") {
  auto dir = cairn::TempDir::create(std::filesystem::temp_directory_path(), "cairn-hash-").value();
  auto sparse = dir.path() / "sparse";
  {
    auto fd = cairn::open_file(sparse, O_WRONLY | O_CREAT).value();
    REQUIRE(::pwrite(fd.get(), "data", 4, 3 << 20) == 4);  // hole, data
    REQUIRE(::ftruncate(fd.get(), (7 << 20) + 123) == 0);  // trailing hole
  }
  std::string dense((7 << 20) + 123, '\0');
  dense.replace(3 << 20, 4, "data");
  CHECK(sha256_file(sparse).value() == sha256(dense));
  REQUIRE(cairn::write_file_atomic(dir.path() / "dense", dense).has_value());
  CHECK(sha256_file(dir.path() / "dense").value() == sha256(dense));
}
