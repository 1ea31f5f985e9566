// A TCP port on 127.0.0.1 that nothing listens on right now, for a server a test starts that
// cannot pick its own (etcd, QEMU's SSH forward) and for a test of a port that refuses.
#pragma once

#include <cstdint>

#include "common/error.hpp"

namespace cairn::testing {

// The kernel's pick for a socket bound to port 0, released again: another process may take it
// before the caller's server binds it, so a caller that can retries with another.
Expected<std::uint16_t> free_loopback_port();

}  // namespace cairn::testing
