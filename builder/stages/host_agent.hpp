// Part of stage 2: what a host needs to update itself — cairn-update with its D-Bus policy and
// service, the trust anchors bundle signatures must chain to, and the machine class bundles
// must match — and to prove itself: cairn-attest with its timer, the libvirt admission hook and
// the health window's attestation check.
#pragma once

#include <filesystem>
#include <string>

#include "common/error.hpp"

namespace cairn::builder {

struct HostAgentInput {
  std::filesystem::path trust_dir;  // keys/trust: public anchors only
  std::string machine_class;
  std::filesystem::path update_binary;  // cairn-update; empty: the image gets none
  std::filesystem::path dist_dir;       // updater/dist: unit and bus policy
  // cairn-evacuate: required when the image has libvirt and cairn-update.
  std::filesystem::path evacuate_binary;
  // cairn-poll-trigger, what the update timer runs: required with cairn-update.
  std::filesystem::path poll_trigger_binary;
  std::filesystem::path attest_binary;    // cairn-attest; empty: the image gets none
  std::filesystem::path attest_dist_dir;  // attest/dist: units, libvirt hook, health check
};

Status install_host_agent(const HostAgentInput& input, const std::filesystem::path& tree);

// cairn-update beside this cairn-build (build tree or installed), or $CAIRN_UPDATE_BINARY.
std::filesystem::path find_update_binary();
// cairn-evacuate likewise (also <prefix>/lib/cairn once installed), or $CAIRN_EVACUATE_BINARY.
std::filesystem::path find_evacuate_binary();
// cairn-poll-trigger likewise, or $CAIRN_POLL_TRIGGER_BINARY.
std::filesystem::path find_poll_trigger_binary();
// cairn-attest likewise, or $CAIRN_ATTEST_BINARY.
std::filesystem::path find_attest_binary();

}  // namespace cairn::builder
