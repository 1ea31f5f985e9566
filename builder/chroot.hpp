// Runs a command inside an image tree with /proc, /sys and /dev mounted — in a private mount
// namespace, so the mounts vanish with the process even if the build is killed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/process.hpp"

namespace cairn::builder {

// The Command that runs `argv` chrooted into `tree` with SOURCE_DATE_EPOCH set.
Command chroot_command(const std::filesystem::path& tree, std::vector<std::string> argv,
                       std::int64_t source_date_epoch);

}  // namespace cairn::builder
