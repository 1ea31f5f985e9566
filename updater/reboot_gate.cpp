#include "updater/reboot_gate.hpp"

#include <nlohmann/json.hpp>

#include "updater/health_checks.hpp"

namespace cairn::updater {
namespace {

std::string_view kind_name(RebootKind kind) {
  return kind == RebootKind::update ? "update" : "rollback";
}

// The hooks of `<hooks_dir>/<stage>.d`, in order; the first failure stops the rest.
Status run_hooks(const FleetConfig& config, std::string_view stage,
                 const fleet::LockRequest& request, std::string_view kind, ProcessRunner& runner) {
  std::filesystem::path dir = config.hooks_dir / (std::string(stage) + ".d");
  for (const auto& hook : executables_in(dir)) {
    auto ran = run_executable(runner, hook, config.migration_timeout,
                              {{"CAIRN_HOOK", std::string(stage)},
                               {"CAIRN_REBOOT", std::string(kind)},
                               {"CAIRN_VERSION", request.version},
                               {"CAIRN_GROUP", request.group},
                               {"CAIRN_MACHINE_ID", request.id}});
    if (!ran.passed) {
      return fail(Errc::busy, std::string(stage) + " hook " + hook.filename().string() +
                                  " failed: " + ran.detail);
    }
  }
  return {};
}

}  // namespace

Expected<GateResult> pass_reboot_gate(const FleetConfig& config, const fleet::LockRequest& request,
                                      RebootKind kind, RebootGateSeams& seams) {
  std::string taken;
  if (seams.lock) {
    auto answer = seams.lock->acquire(request);
    if (!answer) {
      return fail(answer.error().code(),
                  "not rebooting: the fleet lock cannot be asked (lock = \"none\" reboots "
                  "without it): " +
                      answer.error().describe());
    }
    if (!answer->granted) {
      return GateResult{.message = "waiting for the fleet lock: " + answer->message};
    }
    taken = answer->message + "; ";
  }
  // Anything below that stops the reboot gives the place back: the others may go meanwhile.
  auto stop = [&](const Error& why) -> Expected<GateResult> {
    std::string message = "not rebooting: " + why.describe();
    if (seams.lock) {
      auto released = seams.lock->release(request);
      message += released ? "; fleet lock given back"
                          : "; the fleet lock could not be given back (" +
                                released.error().describe() + "): it frees after its TTL";
    }
    return GateResult{.message = message + "; trying again at the next poll"};
  };
  if (auto hooks = run_hooks(config, "pre-reboot", request, kind_name(kind), seams.runner);
      !hooks) {
    return stop(hooks.error());
  }
  std::string moved;
  if (config.evacuate && seams.evacuate) {
    auto evacuated = seams.evacuate();
    if (!evacuated) return stop(evacuated.error());
    moved = *evacuated + "; ";
  }
  return GateResult{.open = true, .message = taken + moved + "rebooting"};
}

Status reach_steady_state(const FleetConfig& config, const fleet::LockRequest& request,
                          bool committed, RebootGateSeams& seams) {
  Status released = seams.lock ? seams.lock->release(request) : Status{};
  if (committed) {
    CAIRN_CHECK(run_hooks(config, "post-commit", request, "update", seams.runner));
  }
  if (!released) {
    return std::unexpected(
        std::move(released.error()).with_context("giving the fleet lock back at steady state"));
  }
  return {};
}

std::function<Expected<std::string>()> evacuate_with_tool(const FleetConfig& config,
                                                          ProcessRunner& runner,
                                                          std::filesystem::path tool) {
  return [&config, &runner, tool = std::move(tool)]() -> Expected<std::string> {
    std::error_code ec;
    if (!std::filesystem::exists(tool, ec)) {
      // Fail closed where guests may run: rebooting would stop them.
      if (std::filesystem::exists("/usr/sbin/libvirtd", ec)) {
        return fail(Errc::not_found, tool.string() +
                                         " is missing on a host that runs libvirt (evacuate = "
                                         "false reboots without moving the guests)");
      }
      return std::string("no libvirt on this host: nothing to evacuate");
    }
    std::vector<std::string> argv{tool.string(), "--json", "--timeout",
                                  std::to_string(config.migration_timeout.count()) + "s"};
    for (const auto& peer : config.migration_peers) argv.insert(argv.end(), {"--peer", peer});
    for (const auto& name : config.shutdown_domains) argv.insert(argv.end(), {"--shutdown", name});
    auto ran = CAIRN_TRY(runner.run({.argv = argv, .capture_stdout = true}));
    auto answer = nlohmann::json::parse(ran.stdout_text, nullptr, false);
    if (ran.exit_code != 0) {
      // Its --json error: {"ok": false, "error": {"code", "message"}}.
      const auto* message =
          answer.is_object() && answer.contains("error") && answer["error"].is_object() &&
                  answer["error"].contains("message") && answer["error"]["message"].is_string()
              ? &answer["error"]["message"]
              : nullptr;
      std::string why = message ? message->get<std::string>() : ran.stderr_tail;
      while (!why.empty() && why.back() == '\n') why.pop_back();
      return fail(Errc::busy, "evacuation failed: " + why);
    }
    if (!answer.is_object() || !answer.contains("summary") || !answer["summary"].is_string()) {
      return fail(Errc::internal, tool.string() + " answered no summary");
    }
    return answer["summary"].get<std::string>();
  };
}

}  // namespace cairn::updater
