// How Cairn's command-line tools end on an error: one line on stderr naming what was wrong,
// the same as JSON on stdout with --json, and an exit code that tells the caller's scripts the
// kind of failure (documented in README): 1 bad input, 2 usage, 3 environment (not root, no
// space, busy, missing tool or key), 4 a step failed, 5 a signature or integrity check failed.
#pragma once

#include <string_view>

#include "common/error.hpp"

namespace cairn {

int exit_code_for(const Error& error);
int report_error(std::string_view program, const Error& error, bool json);

}  // namespace cairn
