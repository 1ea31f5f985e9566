// An update the verifier denies rolls back by itself: the patching practice's observation
// window, with attestation in it. The host learns everything from its machine's system
// credentials (SMBIOS type 11), as a VMM or boot loader would provision it: its channel and
// fleet store (`cairn.update`), its verifier and the verifier's token key (`cairn.attest`,
// `cairn.attest-key`). Nothing is asked of it over SSH until the end. It runs 1.0.0, attested;
// its timer finds 1.0.1 in its channel, a version the verifier never approved, installs it and
// reboots into it. In 1.0.1's health window the attestation check's fresh quote is denied
// (image-known), the window rolls the update back by itself, and 1.0.0 boots again. Then the
// host's history, its fleet record and the fleet report say why, the verifier sees 1.0.0
// attested again, and the libvirt hook admits domains again.
#include <catch2/catch.hpp>
#include <thread>

#include "common/base64.hpp"
#include "common/process.hpp"
#include "fleet/attested_hosts.hpp"
#include "fleet/etcd_client.hpp"
#include "fleet/fleet_store.hpp"
#include "fleet/rollout_report.hpp"
#include "harness/test_support.hpp"
#include "harness/update_flow.hpp"
#include "harness/verifier.hpp"
#include "support/channel_server.hpp"
#include "support/etcd_server.hpp"

using namespace cairn;
using namespace cairn::qemu;

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDenied = "attestation denied: image-known";

// A domain that asks for nothing, started as libvirtd starts it: only the hook can refuse it.
constexpr const char* kRunHook =
    "echo '<domain type=\"kvm\"><name>tenant</name></domain>' | "
    "/etc/libvirt/hooks/qemu.d/20-cairn-attestation tenant prepare begin - 2>&1";

std::string credential(const std::string& name, const std::string& value) {
  return "value=io.systemd.credential.binary:" + name + "=" + base64_encode(value);
}

}  // namespace

TEST_CASE("an update the verifier denies rolls back by itself, and the hook admits again",
          "[attestation][fleet][update][slow]") {
  auto env = require(TestEnvironment::from_env());
  std::string machine_name = "attested-rollout";
  auto options = env.machine(machine_name, env.disk("1.0.0"));
  fs::path dir = options.work_dir.parent_path() / (machine_name + "-servers");
  fs::remove_all(dir);
  fs::create_directories(dir);

  // The verifier approves 1.0.0 only; the channel offers 1.0.1, which nobody approved.
  auto verifier = require(start_verifier(env, dir, {"1.0.0"}));
  auto etcd = require(testing::EtcdServer::start());
  SystemProcessRunner runner;
  require(run_step(
      runner,
      {.argv = {env.cairn_build().string(), "publish", env.image_dir("1.0.1").string(), "--repo",
                (dir / "repo").string(), "--channel", "qemu", "--keys", env.keys_dir().string()}}));
  auto channel_server = require(testing::ChannelServer::start(env.source_dir, dir / "repo", dir));
  int etcd_port = std::stoi(etcd.endpoint().substr(etcd.endpoint().rfind(':') + 1));
  options.nic_options = {
      "guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:127.0.0.1:" +
          std::to_string(channel_server.port()),
      "guestfwd=tcp:10.0.2.101:2379-cmd:socat - TCP:127.0.0.1:" + std::to_string(etcd_port)};
  std::string update_settings =
      "[fleet]\nchannel = \"http://10.0.2.100/channels/qemu.json\"\n"
      "store = \"http://10.0.2.101:2379\"\nname = \"qemu\"\nreboot = \"now\"\n";
  std::string attest_settings = "verifier_url = \"" + verifier.guest_url() +
                                "\"\n"
                                "verifier_key = \"cairn.attest-key\"\n";  // beside the file
  options.extra_qemu_args.insert(
      options.extra_qemu_args.end(),
      {"-smbios", "type=11," + credential("cairn.update", update_settings) + "," +
                      credential("cairn.attest", attest_settings) + "," +
                      credential("cairn.attest-key", require(read_file(verifier.public_key)))});
  options.ovmf_vars = require(enrolled_vars(env, env.disk("1.0.0")));
  auto machine = require(Machine::create(options));
  auto started = std::chrono::steady_clock::now();
  require(machine.start());

  // Only watch: the store is asked until the host has reported how 1.0.1 ended.
  auto store = fleet::etcd_fleet_store(require(fleet::EtcdClient::open(etcd.endpoint())), "qemu");
  std::vector<fleet::OutcomeRecord> outcomes;
  auto deadline = started + 25min;
  while (outcomes.empty() && std::chrono::steady_clock::now() < deadline) {
    REQUIRE(machine.running());  // restarts QEMU after each of the guest's reboots
    if (auto found = store->outcomes("1.0.1")) outcomes = *found;
    if (outcomes.empty()) std::this_thread::sleep_for(5s);
  }
  INFO(machine.console_text());
  REQUIRE(outcomes.size() == 1);
  report_time("1.0.0 attested, timer, install, reboot, denied in the window, back on 1.0.0",
              seconds_since(started));
  const auto& outcome = outcomes.front();
  CHECK(outcome.outcome == fleet::OutcomeKind::rolled_back);
  CHECK_FALSE(outcome.by_operator);
  CHECK(outcome.from_version == "1.0.0");
  CHECK(outcome.to_version == "1.0.1");
  CHECK_THAT(outcome.reason, Catch::Contains(std::string(kDenied)));
  // The fleet report, as `cairn-fleet report 1.0.1` prints it.
  auto report =
      fleet::build_report("1.0.1", outcomes, require(store->hosts()), require(store->controls()));
  CHECK(report.rolled_back == 1);
  CHECK(report.committed == 0);
  auto text = fleet::report_text(report);
  INFO(text);
  CHECK_THAT(text, Catch::Contains(std::string(kDenied)));

  // What the host says of itself, read over SSH.
  require(machine.wait_for_ssh(180s));
  require(wait_for_health(machine, 180s));
  auto status = require(update_status(machine));
  INFO(status.dump(2));
  CHECK(status["booted"] == "A");
  CHECK(status["slots"]["A"]["version"] == "1.0.0");
  CHECK_FALSE(status.contains("pending"));
  CHECK(status["last_update"]["version"] == "1.0.1");
  CHECK(status["last_update"]["outcome"] == "rolled-back");
  CHECK_THAT(status["last_update"]["reason"].get<std::string>(),
             Catch::Contains(std::string(kDenied)));
  auto history = require(machine.run_checked("cairn-update history"));
  INFO(history);
  CHECK_THAT(history, Catch::Contains("check required.d/50-attestation: failed"));
  CHECK_THAT(history, Catch::Contains(std::string(kDenied)));
  CHECK_THAT(history, Catch::Contains("back on 1.0.0 in slot A"));

  // Back on 1.0.0 the host attests again (its timer, 30 s after boot), and the hook lets a
  // domain start once the admission token of this boot is there.
  auto attested = machine.run(
      "timeout 300 sh -c 'until cairn-attest check-token >/dev/null 2>&1; do sleep 5; done'", 320s);
  REQUIRE(attested);
  INFO(require(machine.run("journalctl -b -u cairn-attest.service --no-pager | tail -20")).output);
  CHECK(attested->exit_code == 0);
  auto hook = require(machine.run(kRunHook));
  INFO(hook.output);
  CHECK(hook.exit_code == 0);
  auto host_name = trim(require(machine.run_checked("hostname")));
  auto current = require(fleet::fetch_attested_hosts(
      {.url = "http://127.0.0.1:" + std::to_string(verifier.port)}, "qemu-test", "1.0.0"));
  CHECK(current.state == "approved");
  CHECK(current.current.contains(host_name));
  report_time("whole scenario", seconds_since(started));
}
