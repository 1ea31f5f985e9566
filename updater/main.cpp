// cairn-update: installs signed update bundles into the inactive slot of this host (or of a
// disk-image file), and reports the slots.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "common/cli_errors.hpp"
#include "common/cli_parse.hpp"
#include "common/cms.hpp"
#include "common/fs.hpp"
#include "updater/dbus_client.hpp"
#include "updater/dbus_service.hpp"
#include "updater/history.hpp"
#include "updater/host.hpp"
#include "updater/source.hpp"

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
                record.outcome.c_str(), record.reason.empty() ? "" : " — ", record.reason.c_str());
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

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cairn-update: install signed Cairn update bundles into the inactive slot"};
  app.require_subcommand(1);
  app.fallthrough();
  bool json = false;
  app.add_flag("--json", json, "print the result as JSON on stdout");
  HostOptions host;
  app.add_option("--disk", host.disk,
                 "disk (block device or image file) holding the slots (default: the disk of the "
                 "running root)");
  app.add_option("--booted", host.booted, "the running slot (default: from /proc/cmdline)");
  app.add_option("--esp", host.esp, "mounted ESP (default: /efi, or inside an image file)");
  app.add_option("--trust", host.trust, "trust anchors for bundle signatures")
      ->capture_default_str();
  app.add_option("--state", host.state, "state directory")->capture_default_str();
  app.add_option("--machine-class", host.machine_class,
                 "this host's machine class (default: /usr/lib/cairn/machine-class)");

  std::string source;
  auto* install_cmd = app.add_subcommand("install", "install a bundle into the inactive slot");
  install_cmd->add_option("source", source, "bundle file, - for stdin, or an http(s):// URL")
      ->required();
  install_cmd->add_option("--ca-file", host.ca_file,
                          "extra CA certificate(s) trusted for https URLs");
  bool local = false;
  install_cmd->add_flag("--local", local,
                        "install in this process even when the cairn-update daemon runs");
  auto* status_cmd = app.add_subcommand("status", "show the slots and what is pending");
  auto* good_cmd =
      app.add_subcommand("mark-good", "the pending slot booted well: raise the security floor");
  auto* bad_cmd = app.add_subcommand("mark-bad", "the pending slot failed: remove its boot entry");
  auto* rollback_cmd = app.add_subcommand(
      "rollback", "boot the other slot's version next (this slot's entry stays in the menu)");
  auto* health_cmd = app.add_subcommand(
      "health",
      "assess this boot (cairn-health.service): observe a pending update, then commit it or roll "
      "back");
  std::filesystem::path config_root = "/";
  health_cmd
      ->add_option("--config-root", config_root,
                   "where etc/cairn/update.toml and its drop-ins are looked up")
      ->capture_default_str();
  auto* history_cmd = app.add_subcommand("history", "every update of this host and how it ended");
  auto* daemon_cmd = app.add_subcommand(
      "daemon", "serve org.cairn.Update1 on the system bus (cairn-update.service)");
  add_version_flag(app, "cairn-update");
  if (auto code = parse_command_line(app, "cairn-update", argc, argv)) return *code;

  StderrProgress progress(json);
  // The history is the state directory's alone: no disk needed.
  if (history_cmd->parsed()) {
    auto history = History::load(host.state);
    if (!history) return report_error("cairn-update", history.error(), json);
    if (json) {
      std::cout << history->to_json().dump(2) << "\n";
    } else {
      print_history(*history);
    }
    return 0;
  }
  if (host.disk.empty()) {
    auto disk = default_disk();
    if (!disk) return report_error("cairn-update", disk.error(), json);
    host.disk = *disk;
  }
  if (daemon_cmd->parsed()) {
    auto served = run_daemon(host);
    return served ? 0 : report_error("cairn-update", served.error(), json);
  }
  if (health_cmd->parsed()) {
    auto config = load_update_config(config_root);
    if (!config) return report_error("cairn-update", config.error(), json);
    auto assessed = run_health(host, *config, [&](unsigned round, const auto& results) {
      if (!json) print_round(round, results);
    });
    if (!assessed) return report_error("cairn-update", assessed.error(), json);
    if (json) {
      std::cout << assessment_json(*assessed).dump(2) << "\n";
    } else {
      print_assessment(*assessed);
    }
    bool good =
        assessed->verdict == BootVerdict::healthy || assessed->verdict == BootVerdict::committed;
    return good ? 0 : 4;
  }
  if (good_cmd->parsed() || bad_cmd->parsed()) {
    bool good = good_cmd->parsed();
    auto status = daemon_available() ? call_daemon(good ? "MarkGood" : "MarkBad")
                                     : (good ? mark_good(host) : mark_bad(host));
    return status ? 0 : report_error("cairn-update", status.error(), json);
  }
  if (rollback_cmd->parsed()) {
    Expected<std::pair<char, std::string>> next = std::pair{'?', std::string()};
    if (daemon_available()) {
      next = rollback_via_daemon();
    } else if (auto plan = rollback(host)) {
      next = std::pair{plan->to_slot, plan->to_version};
    } else {
      next = std::unexpected(plan.error());
    }
    if (!next) return report_error("cairn-update", next.error(), json);
    if (json) {
      std::cout << nlohmann::json{{"ok", true},
                                  {"slot", std::string(1, next->first)},
                                  {"version", next->second}}
                       .dump(2)
                << "\n";
    } else {
      std::printf("The next boot starts %s from slot %c; reboot to roll back.\n",
                  next->second.c_str(), next->first);
    }
    return 0;
  }
  if (install_cmd->parsed()) {
    // One process owns the slots: when the daemon runs, it installs (a path or URL it can open;
    // stdin stays with this process).
    bool via_daemon = !local && source != "-" && daemon_available();
    std::string daemon_source = is_url(source) ? source : fs::absolute(source).string();
    auto result = via_daemon ? install_via_daemon(daemon_source, progress)
                             : run_install(source, host, progress);
    if (!result) return report_error("cairn-update", result.error(), json);
    if (json) {
      std::cout << nlohmann::json{{"ok", true},
                                  {"slot", std::string(1, result->slot)},
                                  {"version", result->version},
                                  {"entry", result->entry},
                                  {"security_version", result->security_version}}
                       .dump(2)
                << "\n";
    } else {
      std::printf("Installed %s into slot %c (boot entry %s); reboot to try it.\n",
                  result->version.c_str(), result->slot, result->entry.c_str());
    }
    return 0;
  }
  if (status_cmd->parsed()) {
    auto layout = read_slot_layout(host.disk);
    if (!layout) return report_error("cairn-update", layout.error(), json);
    auto state = load_state(host.state);
    if (!state) return report_error("cairn-update", state.error(), json);
    nlohmann::json out{
        {"disk", host.disk.string()},
        {"slots",
         {{"A", {{"version", layout->a.version()}, {"partuuid", layout->a.root.uuid}}},
          {"B", {{"version", layout->b.version()}, {"partuuid", layout->b.root.uuid}}}}},
        {"security_floor", state->security_floor}};
    if (auto booted = booted_slot(*layout, host.booted)) out["booted"] = std::string(1, *booted);
    if (state->pending) {
      out["pending"] = {{"slot", std::string(1, state->pending->slot)},
                        {"version", state->pending->version}};
    }
    auto history = History::load(host.state);
    const UpdateRecord* last =
        history && !history->records().empty() ? &history->records().back() : nullptr;
    if (last) {
      out["last_update"] = {{"version", last->version},
                            {"slot", std::string(1, last->slot)},
                            {"outcome", last->outcome},
                            {"reason", last->reason}};
    }
    if (json) {
      std::cout << out.dump(2) << "\n";
    } else {
      std::printf("slot A: %s\nslot B: %s\nsecurity floor: %llu\n",
                  layout->a.version().empty() ? "(empty)" : layout->a.version().c_str(),
                  layout->b.version().empty() ? "(empty)" : layout->b.version().c_str(),
                  static_cast<unsigned long long>(state->security_floor));
      if (state->pending) {
        std::printf("pending: %s in slot %c\n", state->pending->version.c_str(),
                    state->pending->slot);
      }
      if (last) {
        std::printf("last update: %s to slot %c: %s%s%s\n", last->version.c_str(), last->slot,
                    last->outcome.c_str(), last->reason.empty() ? "" : " — ", last->reason.c_str());
      }
    }
    return 0;
  }
  return 2;
}
