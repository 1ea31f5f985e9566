#include "builder/stages/rootfs.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

TEST_CASE("host apt sources: one-line and deb822, disabled files ignored") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-apt-").value();
  fs::create_directories(dir.path() / "sources.list.d");
  REQUIRE(write_file_atomic(
      dir.path() / "sources.list",
      "# comment\ndeb [arch=amd64] http://a.example/debian bookworm main contrib\n"));
  REQUIRE(write_file_atomic(dir.path() / "sources.list.d/debian.sources",
                            "Types: deb\nURIs: http://b.example/debian\n"
                            "Suites: bookworm bookworm-updates\nComponents: main\n\n"
                            "Types: deb\nURIs: http://b.example/debian-security\n"
                            "Suites: bookworm-security\nComponents: main\nEnabled: no\n"));
  REQUIRE(write_file_atomic(dir.path() / "sources.list.d/x.list.disabled",
                            "deb http://c.example/ bookworm main\n"));
  auto host = read_host_sources(dir.path());
  REQUIRE(host.has_value());
  REQUIRE(host->size() == 3);
  CHECK((*host)[0].line() == "deb http://a.example/debian bookworm main contrib");
  CHECK((*host)[2].suite == "bookworm-updates");

  auto chosen = sources_for_suite(*host, {}, "bookworm", {"main"});
  REQUIRE(chosen.has_value());
  CHECK(chosen->size() == 3);
  CHECK((*chosen)[0].line() == "deb http://a.example/debian bookworm main");
  CHECK_FALSE(sources_for_suite(*host, {}, "trixie", {"main"}).has_value());
  auto explicit_mirror = sources_for_suite(*host, {"http://m.example/debian"}, "trixie", {"main"});
  REQUIRE(explicit_mirror.has_value());
  CHECK((*explicit_mirror)[1].line() == "deb http://m.example/debian trixie-updates main");
}

TEST_CASE("mmdebstrap arguments and the cache key") {
  RootfsInput input{.sources = {{"http://a.example/debian", "bookworm", {"main"}}},
                    .suite = "bookworm",
                    .packages = {"zstd", "linux-image-amd64"},
                    .source_date_epoch = 1700000000,
                    .cache_dir = "/var/cache/x"};
  auto argv = mmdebstrap_argv(input, "/tmp/target");
  CHECK(argv[0] == "mmdebstrap");
  CHECK(std::find(argv.begin(), argv.end(), "--include=linux-image-amd64,zstd") != argv.end());
  CHECK(argv.back() == "deb http://a.example/debian bookworm main");
  auto key = rootfs_cache_key(input);
  auto moved = input;
  moved.cache_dir = "/elsewhere";
  CHECK(rootfs_cache_key(moved) == key);  // the cache location is not part of the content
  auto newer = input;
  newer.mirror_state = "a new InRelease";
  CHECK(rootfs_cache_key(newer) != key);
  auto more = input;
  more.packages.push_back("vim");
  CHECK(rootfs_cache_key(more) != key);
}

TEST_CASE("apt's complaint about a missing package is understood") {
  CHECK(unknown_package_in("E: Unable to locate package cairn-nope\nE: other") == "cairn-nope");
  CHECK(unknown_package_in("E: Package 'foo' has no installation candidate") == "foo");
  CHECK(unknown_package_in("E: Failed to fetch http://x") == "");
}
