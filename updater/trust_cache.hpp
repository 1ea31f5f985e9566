// The trust store as a long-lived process holds it (the daemon, poll after poll): loaded once,
// loaded again when anything in it changes, so new anchors take effect at the next poll without
// a restart while an unchanged store costs a few stat() calls instead of parsing every
// certificate again. The verifier it keeps remembers the last signature that held (cms.hpp).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "common/cms.hpp"

namespace cairn::updater {

class TrustCache {
 public:
  // The verifier for the anchors at `anchors` (a directory or one file), as they are now.
  Expected<CmsVerifier*> get(const std::filesystem::path& anchors);

 private:
  std::string fingerprint_;
  std::optional<CmsVerifier> verifier_;
};

}  // namespace cairn::updater
