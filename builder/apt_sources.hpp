// Where packages come from. By default a build uses the build machine's own apt sources, so a
// site's mirror or proxy setup is honoured without writing any host name into a recipe.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace cairn::builder {

struct AptSource {
  std::string uri;    // "http://…/debian"
  std::string suite;  // "bookworm", "bookworm-security", …
  std::vector<std::string> components;

  // "deb <uri> <suite> <components…>", the one-line form mmdebstrap takes as a mirror.
  std::string line() const;
};

// Reads `<etc_apt>/sources.list` and `<etc_apt>/sources.list.d/*.list|*.sources` (deb822).
Expected<std::vector<AptSource>> read_host_sources(const std::filesystem::path& etc_apt);

// The sources for `suite`: from the recipe's mirrors when given (suite and suite-updates on
// each), else the host's entries for suite, suite-updates and suite-security.
Expected<std::vector<AptSource>> sources_for_suite(const std::vector<AptSource>& host,
                                                   const std::vector<std::string>& mirrors,
                                                   const std::string& suite,
                                                   const std::vector<std::string>& components);

// Downloads `<uri>/dists/<suite>/InRelease` (the signed index apt starts from). Fails with
// Errc::unavailable naming the mirror when it cannot be fetched within `timeout_seconds`.
Expected<std::string> fetch_in_release(const AptSource& source, long timeout_seconds);

}  // namespace cairn::builder
