// This machine's host name: what cairn-attest enrolls with by default, and what cairn-update
// publishes in its fleet record, so that the two can be matched.
#pragma once

#include <unistd.h>

#include <string>

namespace cairn {

// gethostname(2); "localhost" when it fails.
inline std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace cairn
