// A temporary directory standing for an image tree or a host's /proc and /sys, for audit tests.
#pragma once

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "common/fs.hpp"

namespace cairn::testing {

struct FixtureTree {
  TempDir dir = TempDir::create(std::filesystem::temp_directory_path(), "cairn-audit-").value();

  const std::filesystem::path& root() const { return dir.path(); }

  // Writes `text` at `path` (absolute inside the tree).
  void write(std::string_view path, std::string_view text, unsigned mode = 0644) const {
    auto target = root() / std::filesystem::path(std::string(path)).relative_path();
    std::filesystem::create_directories(target.parent_path());
    REQUIRE(write_file_atomic(target, text, mode).has_value());
    std::filesystem::permissions(target, std::filesystem::perms(mode));
  }

  void link(std::string_view path, std::string_view to) const {
    auto target = root() / std::filesystem::path(std::string(path)).relative_path();
    std::filesystem::create_directories(target.parent_path());
    std::filesystem::create_symlink(std::string(to), target);
  }
};

}  // namespace cairn::testing
