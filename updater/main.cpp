// cairn-update: installs signed update bundles into the inactive slot of this host (or of a
// disk-image file), and reports the slots.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/cli_errors.hpp"
#include "common/cli_parse.hpp"
#include "common/cms.hpp"
#include "common/fs.hpp"
#include "updater/dbus_client.hpp"
#include "updater/dbus_service.hpp"
#include "updater/fleet_agent.hpp"
#include "updater/history.hpp"
#include "updater/host.hpp"
#include "updater/host_gate.hpp"
#include "updater/source.hpp"
#include "updater/status.hpp"

namespace {

using namespace cairn;
using namespace cairn::updater;
namespace fs = std::filesystem;

class StderrProgress final : public Progress {
 public:
  explicit StderrProgress(bool quiet) : quiet_(quiet) {}
  void stage_started(std::string_view stage) override {
    if (!quiet_) std::fprintf(stderr, "==> %.*s\n", static_cast<int>(stage.size()), stage.data());
  }
  void stage_detail(std::string_view, std::string_view) override {}
  // A bar redrawn in place on a terminal: "    writing slot B [##########          ]  52 %".
  void stage_fraction(std::string_view stage, double fraction) override {
    int percent = static_cast<int>(fraction * 100);
    if (quiet_ || percent == last_percent_ || !::isatty(STDERR_FILENO)) return;
    last_percent_ = percent;
    constexpr int kWidth = 30;
    std::string bar(kWidth, ' ');
    std::fill_n(bar.begin(), std::clamp(percent * kWidth / 100, 0, kWidth), '#');
    std::fprintf(stderr, "\r    %.*s [%s] %3d %%", static_cast<int>(stage.size()), stage.data(),
                 bar.c_str(), percent);
  }
  void stage_finished(std::string_view stage, std::chrono::duration<double> took) override {
    if (quiet_) return;
    if (last_percent_ >= 0 && ::isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
    last_percent_ = -1;
    std::fprintf(stderr, "    %.*s done in %.1f s\n", static_cast<int>(stage.size()), stage.data(),
                 took.count());
  }

 private:
  bool quiet_;
  int last_percent_ = -1;
};

void print_round(unsigned round, const std::vector<CheckResult>& results) {
  for (const auto& result : results) {
    std::fprintf(stderr, "round %u: %s %s%s: %s\n", round, result.name.c_str(),
                 result.passed ? "passed" : "FAILED", result.required ? "" : " (wanted)",
                 result.detail.c_str());
  }
}

nlohmann::json assessment_json(const BootAssessment& assessed) {
  nlohmann::json out{
      {"verdict", verdict_name(assessed.verdict)}, {"version", assessed.version},
      {"slot", std::string(1, assessed.slot)},     {"rounds", assessed.report.rounds},
      {"seconds", assessed.report.seconds},        {"reason", assessed.report.reason}};
  if (assessed.rolled_back) {
    out["rolled_back"] = {{"version", assessed.rolled_back->version},
                          {"reason", assessed.rolled_back->reason}};
  }
  return out;
}

void print_assessment(const BootAssessment& assessed) {
  if (assessed.rolled_back) {
    std::printf("update to %s was rolled back: %s\n", assessed.rolled_back->version.c_str(),
                assessed.rolled_back->reason.c_str());
  }
  std::printf("%s in slot %c: %.*s after %u rounds (%.0f s)%s%s\n", assessed.version.c_str(),
              assessed.slot, static_cast<int>(verdict_name(assessed.verdict).size()),
              verdict_name(assessed.verdict).data(), assessed.report.rounds,
              assessed.report.seconds, assessed.report.reason.empty() ? "" : ": ",
              assessed.report.reason.c_str());
}

void print_history(const History& history) {
  if (history.records().empty()) std::printf("no updates yet\n");
  for (const auto& record : history.records()) {
    std::printf("#%llu %s -> %s (slot %c): %s%s%s\n", static_cast<unsigned long long>(record.id),
                record.from_version.empty() ? "?" : record.from_version.c_str(),
                record.version.empty() ? "?" : record.version.c_str(), record.slot,
                std::string(outcome_name(record.outcome)).c_str(),
                record.reason.empty() ? "" : " — ", record.reason.c_str());
    if (!record.source.empty()) std::printf("    from %s\n", record.source.c_str());
    for (const auto& step : record.steps) {
      std::printf("    %-10s %6.1f s\n", step.step.c_str(), step.seconds);
    }
    for (const auto& check : record.checks) {
      std::printf("    check %s: %s (%s)\n", check.name.c_str(), check.passed ? "passed" : "failed",
                  check.detail.c_str());
    }
    for (const auto& check : record.warnings) {
      std::printf("    warning %s: %s\n", check.name.c_str(), check.detail.c_str());
    }
    for (const auto& event : record.events) {
      std::printf("    %s  %s\n", event.at.c_str(), event.what.c_str());
    }
  }
}

// The kill-at-every-transition test's hook (tests/integration/lifecycle_kill.sh): with
// CAIRN_TEST_KILL_AT=<point>, the process ends by SIGKILL at that lifecycle point, as a power cut
// or the OOM killer would end it. Unset (always, outside that test), nothing happens.
TransitionHook kill_hook() {
  const char* wanted = std::getenv("CAIRN_TEST_KILL_AT");
  if (wanted == nullptr || *wanted == 0) return {};
  return [point = std::string(wanted)](std::string_view reached) {
    if (reached == point) ::raise(SIGKILL);
  };
}

// Options that name a host: through the daemon they must be the daemon's own (its Host
// property), or the CLI would answer for another host than the one it names.
Status check_daemon_serves(const HostOptions& host, const std::vector<std::string>& given) {
  if (given.empty()) return {};
  auto served = CAIRN_TRY(daemon_host());
  auto same = [&](const std::string& option) -> bool {
    auto value = [&](const std::string& key) { return served.value(key, std::string()); };
    std::error_code ec;
    auto same_path = [&](const fs::path& mine, const std::string& theirs) {
      return fs::weakly_canonical(mine, ec) == fs::weakly_canonical(theirs, ec);
    };
    if (option == "--disk") return same_path(host.disk, value("disk"));
    if (option == "--state") return same_path(host.state, value("state"));
    if (option == "--trust") return same_path(host.trust, value("trust"));
    if (option == "--esp") return same_path(host.esp, value("esp"));
    if (option == "--booted") return host.booted == value("booted");
    if (option == "--machine-class") return host.machine_class == value("machine_class");
    return false;  // --ca-file, --allow-downgrade: the daemon has no such setting
  };
  for (const auto& option : given) {
    if (!same(option)) {
      return fail(Errc::invalid_input,
                  option + " differs from what the cairn-update daemon serves (" + served.dump() +
                      "): pass --local to act from this process instead");
    }
  }
  return {};
}

void print_json(const nlohmann::json& json) { std::cout << json.dump(2) << "\n"; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-update: install signed Cairn update bundles into the inactive slot"};
  app.require_subcommand(1);
  app.fallthrough();
  bool json = false;
  app.add_flag("--json", json, "print the result as JSON on stdout");
  HostOptions host;
  auto* disk_opt = app.add_option(
      "--disk", host.disk,
      "disk (block device or image file) holding the slots (default: the disk of the running "
      "root)");
  auto* booted_opt =
      app.add_option("--booted", host.booted, "the running slot (default: from /proc/cmdline)")
          ->check(CLI::IsMember({"A", "B"}));
  auto* esp_opt =
      app.add_option("--esp", host.esp, "mounted ESP (default: /efi, or inside an image file)");
  auto* trust_opt = app.add_option("--trust", host.trust, "trust anchors for bundle signatures")
                        ->capture_default_str();
  auto* state_opt = app.add_option("--state", host.state, "state directory")->capture_default_str();
  auto* class_opt =
      app.add_option("--machine-class", host.machine_class,
                     "this host's machine class (default: /usr/lib/cairn/machine-class)");
  auto* machine_id_opt = app.add_option(
      "--machine-id", host.machine_id,
      "this host's identity in its fleet (default: /etc/machine-id; a disk-image file needs one)");
  bool local = false;
  app.add_flag("--local", local, "act in this process even when the cairn-update daemon runs");

  std::string source;
  auto* install_cmd = app.add_subcommand("install", "install a bundle into the inactive slot");
  install_cmd->add_option("source", source, "bundle file, - for stdin, or an http(s):// URL")
      ->required();
  auto* ca_opt = install_cmd->add_option("--ca-file", host.ca_file,
                                         "extra CA certificate(s) trusted for https URLs");
  auto* downgrade_opt = install_cmd->add_flag(
      "--allow-downgrade", host.allow_downgrade,
      "install a version older than the running one (the security floor still applies)");
  auto* status_cmd = app.add_subcommand("status", "show the slots, the booted one and the update");
  auto* good_cmd = app.add_subcommand("mark-good", "the pending update booted well: commit it");
  auto* bad_cmd = app.add_subcommand(
      "mark-bad", "the pending update failed: the other slot's version boots next");
  auto* cancel_cmd = app.add_subcommand("cancel", "stop the install the daemon is running");
  auto* rollback_cmd = app.add_subcommand(
      "rollback", "boot the other slot's version next (this slot's entry stays in the menu)");
  auto* health_cmd = app.add_subcommand(
      "health",
      "assess this boot (cairn-health.service): observe a pending update, then commit it or roll "
      "back");
  auto* poll_cmd = app.add_subcommand(
      "poll",
      "look at the channel of update.toml's [fleet] once (cairn-update.timer): install what its "
      "rollout offers this host, reboot by the policy, report to the fleet store");
  auto* history_cmd = app.add_subcommand("history", "every update of this host and how it ended");
  auto* daemon_cmd = app.add_subcommand(
      "daemon", "serve org.cairn.Update1 on the system bus (cairn-update.service)");
  std::filesystem::path config_root = "/";
  CLI::Option* poll_config_root = nullptr;
  for (auto* command : {health_cmd, poll_cmd, daemon_cmd}) {
    auto* option = command
                       ->add_option("--config-root", config_root,
                                    "where etc/cairn/update.toml and its drop-ins are looked up")
                       ->capture_default_str();
    if (command == poll_cmd) poll_config_root = option;
  }
  add_version_flag(app, "cairn-update");
  if (auto code = parse_command_line(app, "cairn-update", argc, argv)) return *code;

  host.on_transition = kill_hook();
  StderrProgress progress(json);
  auto failed = [&](const Error& error) { return report_error("cairn-update", error, json); };
  // The history is the state directory's alone: no disk needed.
  if (history_cmd->parsed()) {
    auto history = History::load(host.state);
    if (!history) return failed(history.error());
    if (json) {
      print_json(history->to_json());
    } else {
      print_history(*history);
    }
    return 0;
  }
  std::vector<std::string> host_options;
  for (auto* option : {disk_opt, booted_opt, esp_opt, trust_opt, state_opt, class_opt,
                       machine_id_opt, ca_opt, downgrade_opt}) {
    if (option->count() > 0) host_options.push_back(option->get_name());
  }
  // A poll names its own configuration only when run here: the daemon reads its own.
  bool via_daemon = !local && !daemon_cmd->parsed() && !health_cmd->parsed() &&
                    !(poll_cmd->parsed() && poll_config_root->count() > 0) &&
                    !status_cmd->parsed() && !(install_cmd->parsed() && source == "-") &&
                    daemon_available();
  if (via_daemon) {
    if (auto served = check_daemon_serves(host, host_options); !served) {
      std::fprintf(stderr, "cairn-update: %s\n", served.error().describe().c_str());
      return 2;
    }
  }
  if (cancel_cmd->parsed()) {
    if (!daemon_available())
      return failed(Error(Errc::invalid_input, "no cairn-update daemon runs"));
    auto cancelled = call_daemon("Cancel");
    if (!cancelled) return failed(cancelled.error());
    if (json) print_json({{"ok", true}});
    if (!json) std::printf("The install was asked to stop; its target slot stays unbootable.\n");
    return 0;
  }
  if (host.disk.empty()) {
    auto disk = default_disk();
    if (!disk) return failed(disk.error());
    host.disk = *disk;
  }
  if (daemon_cmd->parsed()) {
    auto served = run_daemon(host, config_root);
    return served ? 0 : failed(served.error());
  }
  if (health_cmd->parsed()) {
    auto config = load_update_config(config_root);
    if (!config) return failed(config.error());
    HostRebootGate gate(host, config->fleet);
    auto assessed = run_health(
        host, *config,
        [&](unsigned round, const auto& results) {
          if (!json) print_round(round, results);
        },
        gate);
    if (!assessed) return failed(assessed.error());
    // Steady state: the fleet lock's place back, the post-commit hooks. A lock that cannot be
    // reached frees the place after its TTL.
    if (auto steady = gate.after_assessment(*assessed); !steady) {
      std::fprintf(stderr, "cairn-update: warning: %s\n", steady.error().message().c_str());
    }
    // The fleet hears how updates ended; an unreachable store only delays it (the next poll).
    if (auto reported = report_to_fleet(host, *config); !reported) {
      std::fprintf(stderr, "cairn-update: warning: %s\n", reported.error().message().c_str());
    }
    if (json) {
      print_json(assessment_json(*assessed));
    } else {
      print_assessment(*assessed);
    }
    bool good =
        assessed->verdict == BootVerdict::healthy || assessed->verdict == BootVerdict::committed;
    return good ? 0 : 4;
  }
  if (poll_cmd->parsed()) {
    auto polled = via_daemon ? poll_via_daemon() : [&]() -> Expected<PollResult> {
      auto config = CAIRN_TRY(load_update_config(config_root));
      return run_poll(host, config, progress);
    }();
    if (!polled) return failed(polled.error());
    if (json) {
      nlohmann::json out{
          {"ok", true}, {"message", polled->message}, {"rebooting", polled->rebooting}};
      if (polled->installed) out["installed"] = *polled->installed;
      print_json(out);
    } else {
      std::printf("%s\n", polled->message.c_str());
    }
    return 0;
  }
  if (status_cmd->parsed()) {
    auto status = read_status(host);
    if (!status) return failed(status.error());
    if (json) {
      print_json(status_json(*status));
    } else {
      std::fputs(status_text(*status).c_str(), stdout);
    }
    return 0;
  }
  if (good_cmd->parsed() || bad_cmd->parsed()) {
    bool good = good_cmd->parsed();
    auto before = read_status(host);
    if (!before) return failed(before.error());
    auto marked = via_daemon ? call_daemon(good ? "MarkGood" : "MarkBad")
                             : (good ? mark_good(host) : mark_bad(host));
    if (!marked) return failed(marked.error());
    // What it did, from the one status view.
    auto after = read_status(host);
    if (!after) return failed(after.error());
    std::string version = before->update ? before->update->version : "";
    if (json) {
      auto out = status_json(*after);
      out["ok"] = true;
      out["marked"] = {{"version", version}, {"verdict", good ? "good" : "bad"}};
      print_json(out);
    } else if (good) {
      std::printf("%s committed; security floor %llu.\n", version.c_str(),
                  static_cast<unsigned long long>(after->security_floor));
    } else {
      std::printf("%s marked bad (%s): the next boot starts slot %c's version.\n", version.c_str(),
                  std::string(phase_name(after->phase)).c_str(),
                  before->update && before->update->slot == 'A' ? 'B' : 'A');
    }
    return 0;
  }
  if (rollback_cmd->parsed()) {
    Expected<std::pair<char, std::string>> next = std::pair{'?', std::string()};
    if (via_daemon) {
      next = rollback_via_daemon();
    } else if (auto plan = rollback(host)) {
      next = std::pair{plan->to_slot, plan->to_version};
    } else {
      next = std::unexpected(plan.error());
    }
    if (!next) return failed(next.error());
    if (json) {
      print_json({{"ok", true}, {"slot", std::string(1, next->first)}, {"version", next->second}});
    } else {
      std::printf("The next boot starts %s from slot %c; reboot to roll back.\n",
                  next->second.c_str(), next->first);
    }
    return 0;
  }
  if (install_cmd->parsed()) {
    // One process owns the slots: when the daemon runs, it installs (a path or URL it can open;
    // stdin stays with this process).
    std::string daemon_source = is_url(source) ? source : fs::absolute(source).string();
    auto result = via_daemon ? install_via_daemon(daemon_source, progress)
                             : run_install(source, host, progress);
    if (!result) return failed(result.error());
    if (json) {
      print_json({{"ok", true},
                  {"slot", std::string(1, result->slot)},
                  {"version", result->version},
                  {"entry", result->entry},
                  {"security_version", result->security_version}});
    } else {
      std::printf("Installed %s into slot %c (boot entry %s); reboot to try it.\n",
                  result->version.c_str(), result->slot, result->entry.c_str());
    }
    return 0;
  }
  return 2;
}
