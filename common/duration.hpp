// Durations as people write them on command lines and in configuration files: "90s", "10min",
// "2h", "7d", "1500ms" or a bare number of seconds. The updater's [health] settings and
// cairn-build publish's rollout waves and index lifetime read them the same way.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace cairn {

// Whole seconds; milliseconds are rounded up (a window is never shorter than asked).
// Errc::invalid_input for anything else, naming the text.
Expected<std::chrono::seconds> parse_duration(std::string_view text);

// The largest unit that divides `duration` evenly ("1d", "90min", "45s"); parse_duration reads
// it back.
std::string format_duration(std::chrono::seconds duration);

}  // namespace cairn
