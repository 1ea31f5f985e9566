#include "common/fs.hpp"

#include <catch2/catch.hpp>

using namespace cairn;
namespace fs = std::filesystem;

TEST_CASE("TempDir removes itself") {
  fs::path where;
  {
    auto dir = TempDir::create(fs::temp_directory_path(), "cairn-test-");
    REQUIRE(dir.has_value());
    where = dir->path();
    REQUIRE(write_file_atomic(where / "f", "x").has_value());
    CHECK(fs::exists(where / "f"));
  }
  CHECK_FALSE(fs::exists(where));
}

TEST_CASE("write_file_atomic replaces contents and leaves no temp file") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-test-");
  REQUIRE(dir.has_value());
  auto file = dir->path() / "state.json";
  REQUIRE(write_file_atomic(file, "one").has_value());
  REQUIRE(write_file_atomic(file, "two").has_value());
  CHECK(read_file(file).value() == "two");
  CHECK(std::distance(fs::directory_iterator(dir->path()), fs::directory_iterator()) == 1);
}

TEST_CASE("copy_into writes at an offset") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-test-");
  REQUIRE(dir.has_value());
  REQUIRE(write_file_atomic(dir->path() / "src", "abc").has_value());
  REQUIRE(write_file_atomic(dir->path() / "dst", "0123456789").has_value());
  REQUIRE(copy_into(dir->path() / "src", dir->path() / "dst", 4).has_value());
  CHECK(read_file(dir->path() / "dst").value() == "0123abc789");
}

TEST_CASE("require_free_space names what it was for") {
  auto result = require_free_space("/", std::uint64_t{1} << 62, "the slot image");
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().code() == Errc::no_space);
  CHECK(result.error().message().find("the slot image") != std::string::npos);
}
