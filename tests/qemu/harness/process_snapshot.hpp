// What a process is doing right now, from /proc: for a test that timed out waiting for a guest,
// it tells a QEMU spinning in firmware (threads running, CPU time rising) from one blocked on a
// peer such as swtpm (threads sleeping in a socket read, no CPU time).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace cairn::qemu {

// One line per thread of each process: name, state, CPU time used during `sample`, the kernel
// function it waits in, and the first kernel stack frames. Unreadable entries are skipped.
std::string describe_processes(const std::vector<pid_t>& pids,
                               std::chrono::milliseconds sample = std::chrono::seconds(1));

}  // namespace cairn::qemu
