// A host updates itself from its channel: nothing is asked of it over SSH. The channel
// repository is served over HTTP and etcd runs on the host's loopback; the guest reaches them at
// fixed addresses of its user-mode network (10.0.2.100:80 and 10.0.2.101:2379, QEMU guestfwd),
// and learns its fleet settings from a system credential (SMBIOS type 11, `cairn.update`). Its
// timer polls, the rollout admits it, it installs 1.0.1, reboots by its policy ("now"), passes
// its health window and commits — and the fleet store shows the outcome, and the fleet lock the
// host held across its reboot, given back at steady state.
#include <catch2/catch.hpp>
#include <thread>

#include "common/base64.hpp"
#include "common/process.hpp"
#include "fleet/etcd_client.hpp"
#include "fleet/fleet_store.hpp"
#include "fleet/reboot_lock.hpp"
#include "harness/test_support.hpp"
#include "harness/update_flow.hpp"
#include "support/channel_server.hpp"
#include "support/etcd_server.hpp"

using namespace cairn;
using namespace cairn::qemu;

TEST_CASE("a host updates itself from its channel by its timer and the fleet store shows it",
          "[fleet][update][slow]") {
  auto env = require(TestEnvironment::from_env());
  auto etcd = require(testing::EtcdServer::start());
  std::string machine_name = "fleet-timer";
  auto options = env.machine(machine_name, env.disk("1.0.0"));
  std::filesystem::path dir = options.work_dir.parent_path() / (machine_name + "-channel");
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  SystemProcessRunner runner;
  require(run_step(
      runner,
      {.argv = {env.cairn_build().string(), "publish", env.image_dir("1.0.1").string(), "--repo",
                (dir / "repo").string(), "--channel", "qemu", "--keys", env.keys_dir().string()}}));
  auto channel_server = require(testing::ChannelServer::start(env.source_dir, dir / "repo", dir));
  int port = channel_server.port();
  int etcd_port = std::stoi(etcd.endpoint().substr(etcd.endpoint().rfind(':') + 1));

  // Fixed guest addresses, forwarded per connection to the servers on loopback.
  options.nic_options = {
      "guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:127.0.0.1:" + std::to_string(port),
      "guestfwd=tcp:10.0.2.101:2379-cmd:socat - TCP:127.0.0.1:" + std::to_string(etcd_port)};
  std::string settings =
      "[fleet]\nchannel = \"http://10.0.2.100/channels/qemu.json\"\n"
      "store = \"http://10.0.2.101:2379\"\nname = \"qemu\"\nreboot = \"now\"\n";
  options.extra_qemu_args.insert(
      options.extra_qemu_args.end(),
      {"-smbios",
       "type=11,value=io.systemd.credential.binary:cairn.update=" + base64_encode(settings)});
  options.ovmf_vars = require(enrolled_vars(env, env.disk("1.0.0")));
  auto machine = require(Machine::create(options));
  auto started = std::chrono::steady_clock::now();
  require(machine.start());

  // Only watch: the timer polls, the host installs, reboots (a fresh QEMU: cold_reboot) and
  // commits after its window; the store is asked until the outcome is there.
  auto client = require(fleet::EtcdClient::open(etcd.endpoint()));
  auto store = fleet::etcd_fleet_store(std::move(client), "qemu");
  std::optional<fleet::OutcomeRecord> outcome;
  auto deadline = started + 20min;
  while (!outcome && std::chrono::steady_clock::now() < deadline) {
    REQUIRE(machine.running());  // restarts QEMU after the guest's reboot
    if (auto outcomes = store->outcomes("1.0.1"); outcomes && !outcomes->empty()) {
      outcome = outcomes->front();
      break;
    }
    std::this_thread::sleep_for(5s);
  }
  INFO(machine.console_text());
  REQUIRE(outcome);
  report_time("1.0.0 boot, timer, install, reboot, window, commit", seconds_since(started));
  CHECK(outcome->outcome == fleet::OutcomeKind::committed);
  CHECK(outcome->from_version == "1.0.0");
  CHECK(outcome->to_version == "1.0.1");
  CHECK(outcome->window_seconds > 0);
  CHECK_FALSE(outcome->steps.empty());

  // What the host says of itself, read (not asked to do anything) over SSH.
  require(machine.wait_for_ssh(180s));
  auto status = require(update_status(machine));
  INFO(status.dump(2));
  CHECK(status["booted"] == "B");
  CHECK(status["slots"]["B"]["version"] == "1.0.1");
  CHECK(status["phase"] == "committed");
  CHECK(status["last_poll"]["ok"] == true);
  // The timer's way in: its service runs the static trigger, which asks the running daemon
  // through cairn-update-poll.socket (no bus client, no cairn-update process) and prints the
  // answer; anyone but root is kept out by the socket's mode.
  CHECK_THAT(require(machine.run_checked("systemctl is-active cairn-update-poll.socket")),
             Catch::StartsWith("active"));
  CHECK_THAT(require(machine.run_checked("stat -c %a /run/cairn-update/poll.socket")),
             Catch::StartsWith("600"));
  auto answer = require(machine.run_checked(
      "systemctl start cairn-update-poll.service && "
      "journalctl -b -u cairn-update-poll.service -o cat | grep 'up to date' | tail -n 1"));
  CHECK_THAT(answer, Catch::Contains("up to date (1.0.1"));
  auto hosts = require(store->hosts());
  REQUIRE(hosts.size() == 1);
  CHECK(hosts[0].version == "1.0.1");
  CHECK(hosts[0].alive);

  // The reboot took the group's place in the fleet lock; steady state (the commit) gave it back.
  auto etcd_client = require(fleet::EtcdClient::open(etcd.endpoint()));
  auto locks = require(fleet::list_group_locks(etcd_client, "qemu"));
  REQUIRE(locks.size() == 1);
  CHECK(locks[0].group == "default");
  CHECK(locks[0].semaphore.holders.empty());
  auto last = require(etcd_client.get(fleet::semaphore_key("qemu", "default")));
  REQUIRE(last);
  bool held = false;
  for (auto revision = last->create_revision; revision <= last->mod_revision; ++revision) {
    auto kv = require(etcd_client.get_at(fleet::semaphore_key("qemu", "default"), revision));
    if (kv && !require(fleet::parse_semaphore(kv->value)).holders.empty()) held = true;
  }
  CHECK(held);
}
