// `cairn-fleet promote`: a version moves from one channel (staging) to another (stable) only on
// the fleet store's evidence — enough hosts of the source channel committed it, none rolled it
// back, and with --attested enough of them proven to run it by the verifier's TPM evidence — or
// by an operator's --force, which the store records with who forced it.
#pragma once

#include <filesystem>
#include <string>

#include "fleet/attested_hosts.hpp"
#include "fleet/fleet_store.hpp"
#include "fleet/rollout_report.hpp"

namespace cairn::fleet {

struct PromoteRequest {
  std::string version;
  std::string from_channel;
  std::string to_channel;
  std::filesystem::path repo;
  std::filesystem::path keys;  // signing.key, signing.crt, trust/ (cairn-build keys)
  std::size_t min_hosts = 3;
  // > 0: that many hosts of the source channel must also be current on the version at the
  // verifier (attested_hosts.hpp); `image` is the name the verifier approved it under.
  std::size_t min_attested = 0;
  std::string image;
  VerifierEndpoint verifier;
  bool force = false;
  std::string by;
};

struct Promotion {
  std::uint64_t serial = 0;  // of the target channel's new index
  PromotionEvidence evidence;
};

Expected<Promotion> promote_version(FleetStore& store, const PromoteRequest& request);

}  // namespace cairn::fleet
