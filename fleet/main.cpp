// cairn-fleet: the operator's view of a fleet and its rollouts, from the fleet store (etcd):
// status, the report after an update, pause / resume / pull, promote from staging to stable, and
// the fleet lock of each group (locks, unlock, set-max).
#include <pwd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "common/cli_errors.hpp"
#include "common/cli_parse.hpp"
#include "fleet/channel_index.hpp"
#include "fleet/promote.hpp"
#include "fleet/reboot_lock.hpp"
#include "fleet/rollout_report.hpp"

namespace {

using namespace cairn;
using namespace cairn::fleet;

// Who acts: --by, else the user behind sudo, else the login name.
std::string operator_name(const std::string& given) {
  if (!given.empty()) return given;
  for (const char* variable : {"SUDO_USER", "USER", "LOGNAME"}) {
    if (const char* value = std::getenv(variable); value && *value) return value;
  }
  if (const passwd* entry = ::getpwuid(::getuid())) return entry->pw_name;
  return "unknown";
}

std::string now_text() {
  return format_time(std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

void print_json(const nlohmann::json& json) { std::cout << json.dump(2) << "\n"; }

void print_locks(const std::vector<GroupLock>& locks, bool json) {
  if (json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& lock : locks) {
      nlohmann::json holders = nlohmann::json::array();
      for (const auto& holder : lock.semaphore.holders) {
        holders.push_back(
            {{"id", holder.id},
             {"since", holder.since},
             {"version", holder.version},
             {"expired", (std::ranges::find(lock.expired, holder.id) != lock.expired.end())}});
      }
      out.push_back({{"group", lock.group}, {"max", lock.semaphore.max}, {"holders", holders}});
    }
    return print_json({{"locks", out}});
  }
  if (locks.empty()) std::printf("No group has taken its fleet lock yet.\n");
  for (const auto& lock : locks) {
    std::printf("%s: %zu of %u held\n", lock.group.c_str(), lock.semaphore.holders.size(),
                lock.semaphore.max);
    for (const auto& holder : lock.semaphore.holders) {
      bool expired = (std::ranges::find(lock.expired, holder.id) != lock.expired.end());
      std::printf("  %s since %s for %s%s\n", holder.id.c_str(), holder.since.c_str(),
                  holder.version.empty() ? "-" : holder.version.c_str(),
                  expired ? " (TTL expired: freed at the next request)" : "");
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-fleet: the fleet's hosts and rollouts, from its fleet store (etcd)"};
  app.require_subcommand(1);
  app.fallthrough();
  bool json = false;
  std::string store_url;
  std::string fleet_name = "default";
  std::string ca_file;
  std::string by;
  app.add_flag("--json", json, "print the result as JSON on stdout");
  app.add_option("--store", store_url, "the fleet store: etcd's URL (or $CAIRN_FLEET_STORE)")
      ->envname("CAIRN_FLEET_STORE");
  app.add_option("--fleet", fleet_name, "the fleet's name (/cairn/<name>/ in etcd)")
      ->capture_default_str();
  app.add_option("--ca-file", ca_file, "extra CA for an https store");
  app.add_option("--by", by, "who acts, for the record (default: the user running this)");

  std::string channel;
  auto* status_cmd = app.add_subcommand("status", "hosts by version and by state, stale marked");
  status_cmd->add_option("--channel", channel, "only the hosts following this channel");
  std::string version;
  auto* report_cmd = app.add_subcommand("report", "the report after an update to VERSION");
  report_cmd->add_option("version", version, "the version")->required();
  std::string reason;
  auto* pause_cmd = app.add_subcommand("pause", "no host starts VERSION until it is resumed");
  auto* pull_cmd = app.add_subcommand("pull", "withdraw VERSION: no host starts it any more");
  auto* resume_cmd =
      app.add_subcommand("resume", "lift a pause, a pull or a halt: hosts start VERSION again");
  for (auto* command : {pause_cmd, pull_cmd, resume_cmd}) {
    command->add_option("version", version, "the version")->required();
    command->add_option("--reason", reason, "why, for the record");
  }
  PromoteRequest promote;
  auto* promote_cmd = app.add_subcommand(
      "promote", "publish VERSION in another channel once the store shows it committed there");
  promote_cmd->add_option("version", promote.version, "the version")->required();
  promote_cmd->add_option("--from", promote.from_channel, "the channel it proved itself in")
      ->required();
  promote_cmd->add_option("--to", promote.to_channel, "the channel to publish it in")->required();
  promote_cmd->add_option("--repo", promote.repo, "the channel repository (a directory)")
      ->required();
  promote_cmd->add_option("--keys", promote.keys, "the signing keys (cairn-build keys)")
      ->required();
  promote_cmd
      ->add_option("--min-hosts", promote.min_hosts,
                   "hosts of the source channel that must have committed it")
      ->capture_default_str();
  promote_cmd->add_option("--attested", promote.min_attested,
                          "hosts of the source channel the verifier must see running it "
                          "(TPM evidence, GET /v1/versions/IMAGE/VERSION/hosts)");
  promote_cmd->add_option("--verifier", promote.verifier.url, "cairn-verifier's URL")
      ->envname("CAIRN_VERIFIER_URL");
  promote_cmd->add_option("--verifier-ca", promote.verifier.ca_file,
                          "the CA the verifier's TLS certificate chains to");
  promote_cmd->add_option("--image", promote.image, "the image name the verifier approved");
  promote_cmd->add_flag("--force", promote.force,
                        "promote without the evidence (recorded, with who forced it)");
  app.add_subcommand("locks", "each group's fleet lock: its max and who holds a place");
  std::string host;
  auto* unlock_cmd = app.add_subcommand(
      "unlock", "free HOST's place in the fleet lock (a host that died holding it)");
  unlock_cmd->add_option("host", host, "the host's machine-id")->required();
  std::string group;
  unsigned max = 1;
  auto* set_max_cmd =
      app.add_subcommand("set-max", "how many hosts of GROUP may reboot at the same time");
  set_max_cmd->add_option("group", group, "the group ([fleet] group of its hosts)")->required();
  set_max_cmd->add_option("max", max, "at least 1")->required()->check(CLI::PositiveNumber);
  add_version_flag(app, "cairn-fleet");
  if (auto code = parse_command_line(app, "cairn-fleet", argc, argv)) return *code;

  if (store_url.empty()) {
    // Checked here rather than by CLI11, so that a missing command or an unknown option is the
    // error named first.
    std::fprintf(stderr,
                 "cairn-fleet: usage error: --store is required (or $CAIRN_FLEET_STORE)\n"
                 "Run with --help for more information.\n");
    return kExitUsage;
  }
  auto failed = [&](const Error& error) { return report_error("cairn-fleet", error, json); };
  auto client = EtcdClient::open(store_url, {.ca_file = ca_file});
  if (!client) return failed(client.error());
  if (app.got_subcommand("locks")) {
    auto locks = list_group_locks(*client, fleet_name);
    if (!locks) return failed(locks.error());
    print_locks(*locks, json);
    return 0;
  }
  if (unlock_cmd->parsed()) {
    auto freed = unlock_host(*client, fleet_name, host);
    if (!freed) return failed(freed.error());
    if (freed->empty()) {
      return failed(Error(Errc::not_found, host + " holds no place in any fleet lock"));
    }
    if (json) {
      print_json({{"ok", true}, {"host", host}, {"groups", *freed}, {"by", operator_name(by)}});
    } else {
      for (const auto& freed_group : *freed) {
        std::printf("Freed %s's place in the fleet lock of group %s.\n", host.c_str(),
                    freed_group.c_str());
      }
    }
    return 0;
  }
  if (set_max_cmd->parsed()) {
    if (auto set = set_semaphore_max(*client, fleet_name, group, max); !set) {
      return failed(set.error());
    }
    if (json) {
      print_json({{"ok", true}, {"group", group}, {"max", max}});
    } else {
      std::printf("Up to %u hosts of group %s may now reboot at the same time.\n", max,
                  group.c_str());
    }
    return 0;
  }
  auto store = etcd_fleet_store(std::move(*client), fleet_name);

  if (status_cmd->parsed()) {
    auto hosts = store->hosts();
    if (!hosts) return failed(hosts.error());
    auto controls = store->controls();
    if (!controls) return failed(controls.error());
    auto status = build_status(std::move(*hosts), channel, std::move(*controls));
    if (json) {
      print_json(status_json(status));
    } else {
      std::fputs(status_text(status).c_str(), stdout);
    }
    return 0;
  }
  if (report_cmd->parsed()) {
    auto outcomes = store->outcomes(version);
    if (!outcomes) return failed(outcomes.error());
    auto hosts = store->hosts();
    if (!hosts) return failed(hosts.error());
    auto controls = store->controls();
    if (!controls) return failed(controls.error());
    auto promotions = store->promotions(version);
    if (!promotions) return failed(promotions.error());
    auto report = build_report(version, *outcomes, *hosts, *controls, std::move(*promotions));
    if (json) {
      print_json(report_json(report));
    } else {
      std::fputs(report_text(report).c_str(), stdout);
    }
    return 0;
  }
  if (pause_cmd->parsed() || pull_cmd->parsed()) {
    VersionControl control{
        .state = pause_cmd->parsed() ? ControlState::paused : ControlState::pulled,
        .by = operator_name(by),
        .reason = reason,
        .at = now_text()};
    if (auto put = store->put_control(version, control); !put) return failed(put.error());
    if (json) {
      print_json(
          {{"ok", true}, {"version", version}, {"state", control_state_name(control.state)}});
    } else {
      std::printf("%s %s by %s: no host starts it until `cairn-fleet resume %s`.\n",
                  version.c_str(), std::string(control_state_name(control.state)).c_str(),
                  control.by.c_str(), version.c_str());
    }
    return 0;
  }
  if (resume_cmd->parsed()) {
    auto controls = store->controls();
    if (!controls) return failed(controls.error());
    auto it = controls->find(version);
    if (it == controls->end()) {
      return failed(Error(Errc::not_found, version + " is not halted, paused or pulled"));
    }
    if (auto cleared = store->clear_control(version); !cleared) return failed(cleared.error());
    if (json) {
      print_json({{"ok", true},
                  {"version", version},
                  {"was", control_state_name(it->second.state)},
                  {"by", operator_name(by)}});
    } else {
      std::printf("%s resumed by %s (it was %s: %s).\n", version.c_str(), operator_name(by).c_str(),
                  std::string(control_state_name(it->second.state)).c_str(),
                  it->second.reason.c_str());
    }
    return 0;
  }
  if (promote_cmd->parsed()) {
    promote.by = operator_name(by);
    auto promoted = promote_version(*store, promote);
    if (!promoted) return failed(promoted.error());
    if (json) {
      print_json({{"ok", true},
                  {"version", promote.version},
                  {"channel", promote.to_channel},
                  {"serial", promoted->serial},
                  {"forced", promote.force},
                  {"evidence", promoted->evidence.summary},
                  {"attested", promoted->evidence.attested}});
    } else {
      std::printf("%s published in %s (serial %llu)%s: %s.\n", promote.version.c_str(),
                  promote.to_channel.c_str(), static_cast<unsigned long long>(promoted->serial),
                  promote.force ? (", FORCED by " + promote.by).c_str() : "",
                  promoted->evidence.summary.c_str());
    }
    return 0;
  }
  return 2;
}
