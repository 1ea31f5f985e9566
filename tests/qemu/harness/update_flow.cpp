#include "update_flow.hpp"

#include "common/process.hpp"
#include "test_support.hpp"

namespace cairn::qemu {

namespace fs = std::filesystem;

namespace {

Expected<nlohmann::json> parse_json(const std::string& text, const std::string& what) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded()) return fail(Errc::invalid_input, what + " is not JSON: " + text);
  return json;
}

}  // namespace

Expected<Machine> boot_first_version(const TestEnvironment& env, const std::string& name,
                                     bool cold_reboot) {
  auto options = env.machine(name, env.disk("1.0.0"));
  options.ovmf_vars = CAIRN_TRY(enrolled_vars(env, env.disk("1.0.0")));
  options.cold_reboot = cold_reboot;
  auto machine = CAIRN_TRY(Machine::create(options));
  CAIRN_CHECK(machine.start());
  CAIRN_CHECK(machine.wait_for_ssh(180s));
  report_time("boot of 1.0.0 to SSH", machine.uptime());
  return machine;
}

Expected<fs::path> bundle_of(const TestEnvironment& env, const Machine& machine,
                             const std::string& version) {
  fs::path bundle = machine.options().work_dir / ("qemu-test_" + version + ".cairnb");
  SystemProcessRunner runner;
  CAIRN_CHECK(run_step(
      runner, {.argv = {env.cairn_build().string(), "bundle", env.image_dir(version).string(),
                        "--keys", env.keys_dir().string(), "--output", bundle.string()}}));
  return bundle;
}

Expected<nlohmann::json> install_in_guest(const TestEnvironment& env, Machine& machine,
                                          const std::string& version) {
  auto bundle = CAIRN_TRY(bundle_of(env, machine, version));
  std::string remote = "/var/home/cairn-test/" + bundle.filename().string();
  CAIRN_CHECK(machine.copy_to_guest(bundle, remote));
  std::error_code ec;
  fs::remove(bundle, ec);  // the guest has its copy, and CI disks are small
  auto started = std::chrono::steady_clock::now();
  auto answer = CAIRN_TRY(machine.run_checked("cairn-update install " + remote + " --json", 300s));
  report_time("install of " + version + " in the guest", seconds_since(started));
  return parse_json(answer, "cairn-update install --json");
}

Expected<std::size_t> wait_for_boots(Machine& machine, int count, std::size_t from,
                                     std::chrono::seconds timeout_each) {
  for (int i = 0; i < count; ++i) {
    CAIRN_TRY(machine.wait_for_console(std::regex("Linux version"), timeout_each, from));
    from = machine.console_mark();
  }
  return from;
}

Expected<std::size_t> reboot_guest(Machine& machine) {
  std::size_t mark = machine.console_mark();
  (void)machine.run("systemctl reboot", 10s);  // the connection drops with the guest
  return wait_for_boots(machine, 1, mark, 180s);
}

Status wait_for_health(Machine& machine, std::chrono::seconds timeout) {
  // ActiveState leaves "activating" once the assessment has a verdict.
  auto result = CAIRN_TRY(
      machine.run("for i in $(seq " + std::to_string(timeout.count()) +
                      "); do s=$(systemctl show -P ActiveState cairn-health.service); "
                      "[ \"$s\" = active ] || [ \"$s\" = failed ] && exit 0; sleep 1; done; exit 1",
                  timeout + 30s));
  if (result.exit_code != 0) {
    return fail(Errc::busy, machine.options().name + ": cairn-health.service still running after " +
                                std::to_string(timeout.count()) + " s");
  }
  return {};
}

Expected<nlohmann::json> update_status(Machine& machine) {
  return parse_json(CAIRN_TRY(machine.run_checked("cairn-update status --json")),
                    "cairn-update status --json");
}

Expected<std::string> boot_entries(Machine& machine) {
  return trim(CAIRN_TRY(machine.run_checked("ls /efi/EFI/Linux | sort | tr '\\n' ' '")));
}

}  // namespace cairn::qemu
