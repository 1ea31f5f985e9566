// cairn-evacuate (/usr/lib/cairn/cairn-evacuate): moves every running libvirt domain off this
// host (evacuation.hpp), for cairn-update before a reboot. A program of its own because libvirt
// brings GLib and a dozen libraries that cairn-update, run by a timer on every host, should not
// load at each poll.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/cli_errors.hpp"
#include "common/cli_parse.hpp"
#include "common/duration.hpp"
#include "updater/evacuation.hpp"

int main(int argc, char** argv) {
  using namespace cairn;
  using namespace cairn::updater;
  CLI::App app{"cairn-evacuate: live-migrate every running libvirt domain to a peer"};
  std::string uri = "qemu:///system";
  std::string timeout = "10min";
  bool json = false;
  EvacuationPolicy policy;
  app.add_option("--uri", uri, "this host's libvirt")->capture_default_str();
  app.add_option("--peer", policy.peers, "a peer's libvirt URI, tried in order (repeatable)");
  app.add_option("--timeout", timeout, "per domain")->capture_default_str();
  app.add_option("--shutdown", policy.shutdown_domains,
                 "a domain to shut down instead of moving (repeatable; * for all)");
  app.add_flag("--json", json, "print the result as JSON on stdout");
  add_version_flag(app, "cairn-evacuate");
  if (auto code = parse_command_line(app, "cairn-evacuate", argc, argv)) return *code;
  auto parsed = parse_duration(timeout);
  if (!parsed || parsed->count() == 0) {
    std::fprintf(stderr, "cairn-evacuate: usage error: --timeout '%s' is not a duration > 0\n",
                 timeout.c_str());
    return kExitUsage;
  }
  policy.timeout = *parsed;
  auto hypervisor = libvirt_hypervisor(uri);
  auto report = evacuate(*hypervisor, policy);
  if (!report) return report_error("cairn-evacuate", report.error(), json);
  if (json) {
    std::cout << nlohmann::json{{"ok", true},
                                {"moved", report->moved},
                                {"shut_down", report->shut_down},
                                {"summary", report->summary()}}
                     .dump(2)
              << "\n";
  } else {
    std::printf("%s\n", report->summary().c_str());
  }
  return 0;
}
