// Promotion on attested evidence: which hosts the verifier saw run a version. cairn-fleet asks
// cairn-verifier's GET /v1/versions/{image}/{version}/hosts and counts the hosts of the source
// channel among those still current on it (admitted on no other version since), matched by the
// host name each host publishes in its fleet record.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "fleet/fleet_store.hpp"

namespace cairn::fleet {

struct VerifierEndpoint {
  std::string url;      // https://verifier:8740
  std::string ca_file;  // the CA its TLS certificate chains to; empty: the system's
};

// The verifier's answer: the version's state, and the names of the hosts current on it.
struct AttestedHosts {
  std::string state;  // "approved" or "revoked"
  std::set<std::string> current;
};

// Parses the endpoint's JSON strictly (Errc::invalid_input naming what is wrong).
Expected<AttestedHosts> parse_attested_hosts(std::string_view json);
// Asks the verifier (10 s at most); Errc::unavailable when it cannot be reached, Errc::not_found
// when it never loaded the version.
Expected<AttestedHosts> fetch_attested_hosts(const VerifierEndpoint& verifier,
                                             std::string_view image, std::string_view version);

// The hosts following `channel` that the verifier saw current on the version, by host name.
std::vector<std::string> attested_followers(const std::vector<HostRecord>& hosts,
                                            std::string_view channel,
                                            const AttestedHosts& attested);

}  // namespace cairn::fleet
