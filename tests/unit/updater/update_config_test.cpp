#include "updater/update_config.hpp"

#include <catch2/catch.hpp>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::updater;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& root, const std::string& relative, const std::string& text) {
  fs::create_directories((root / relative).parent_path());
  REQUIRE(write_file_atomic(root / relative, text));
}

}  // namespace

TEST_CASE("durations take a unit or are seconds", "[update_config]") {
  CHECK(*parse_duration("90") == 90s);
  CHECK(*parse_duration("90s") == 90s);
  CHECK(*parse_duration("10min") == 600s);
  CHECK(*parse_duration("2h") == 7200s);
  CHECK(*parse_duration("1500ms") == 2s);  // rounded up: a window is never shorter than asked
  CHECK_FALSE(parse_duration("ten minutes"));
  CHECK_THAT(parse_duration("5 days").error().message(), Catch::Contains("unknown unit"));
}

TEST_CASE("no configuration gives the documented defaults", "[update_config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
  REQUIRE(dir);
  auto config = load_update_config(dir->path());
  REQUIRE(config);
  CHECK(config->health.window == 600s);
  CHECK(config->health.interval == 30s);
  CHECK(config->health.libvirtd);
  CHECK(config->health.checks_dir == "/etc/cairn/health.d");
}

TEST_CASE("drop-ins apply in name order and a later directory replaces a same-named file",
          "[update_config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
  REQUIRE(dir);
  put(dir->path(), "etc/cairn/update.toml", "[health]\nwindow = \"5min\"\ninterval = 10\n");
  put(dir->path(), "usr/lib/cairn/update.toml.d/10-image.toml",
      "[health]\nlibvirtd = false\nwindow = \"1h\"\n");
  put(dir->path(), "etc/cairn/update.toml.d/20-site.toml", "[health]\nwindow = \"20s\"\n");
  // Same name as the image's: replaces it, so libvirtd stays at its default.
  put(dir->path(), "run/cairn/update.toml.d/10-image.toml", "[health]\ninterval = \"2s\"\n");
  auto config = load_update_config(dir->path());
  REQUIRE(config);
  CHECK(config->health.window == 20s);
  CHECK(config->health.interval == 2s);
  CHECK(config->health.libvirtd);
}

TEST_CASE("a bad update.toml names the file, line and key", "[update_config]") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-config-");
  REQUIRE(dir);
  SECTION("unknown key") {
    put(dir->path(), "etc/cairn/update.toml", "[health]\nwindw = \"5min\"\n");
    auto config = load_update_config(dir->path());
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error().message(), Catch::Contains("update.toml:2: unknown key "
                                                         "'health.windw' (did you mean "
                                                         "'health.window'?)"));
  }
  SECTION("bad duration") {
    put(dir->path(), "etc/cairn/update.toml.d/x.toml", "[health]\n\ninterval = \"soon\"\n");
    auto config = load_update_config(dir->path());
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error().message(),
               Catch::Contains("x.toml:3: 'health.interval': 'soon' is not a duration"));
  }
  SECTION("zero interval") {
    put(dir->path(), "etc/cairn/update.toml", "[health]\ninterval = 0\n");
    auto config = load_update_config(dir->path());
    REQUIRE_FALSE(config);
    CHECK_THAT(config.error().message(), Catch::Contains("'health.interval' must be > 0"));
  }
}
