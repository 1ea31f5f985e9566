// Rolling reboots that stop no guest, end to end: two hypervisors (the libvirt variant of the
// test image, 2.0.0) on a private QEMU network between them (a UDP socket netdev; 10.0.3.1 and
// 10.0.3.2), etcd and the channel on the test machine (QEMU guestfwd), and a nested guest on
// host 1 — a 32 MiB TCG domain booting a 512-byte program that prints a counter on its serial
// port once a second (tests/qemu/guests/counter.S).
//   0. Host 2 refuses the guest (its admission hook: not attested): host 1 installs 2.0.1 but does
//      not reboot, gives the lock back and says why; the guest stays on host 1.
//   0b. Host 2 runs a guest whose 30 MiB of non-zero memory take 30 s to send at the 1 MiB/s it
//      is capped to, and a migration_timeout of 5 s: its poll installs 2.0.1, starts the
//      migration, aborts it halfway, gives the lock back and does not reboot; that guest runs on
//      host 2 alone (tests/qemu/guests/busy.S).
//   1. Host 1 polls, takes the lock, migrates the guest to host 2, reboots into 2.0.1, passes
//      its window and gives the lock back.
//   2. Host 2 then updates the same way, while host 1 takes the guest back.
// Asserted: with max = 1 the two hosts never held the lock at the same time (every revision of
// the semaphore in etcd's history), and the guest never stopped (its counter carries on across
// both migrations, it runs on exactly one host at the end).
#include <catch2/catch.hpp>
#include <fstream>
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
#include "support/free_port.hpp"

using namespace cairn;
using namespace cairn::qemu;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSerial = "/var/log/libvirt/qemu/tiny.serial";
constexpr const char* kKey = "/var/lib/cairn-test/migrate_key";

// NAME is replaced by the domain's name (its floppy and serial log are named after it).
const char* kDomainXml = R"(<domain type='qemu'>
  <name>NAME</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='fd'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='floppy'>
      <source file='/var/lib/libvirt/images/NAME.img'/>
      <target dev='fda' bus='fdc'/>
      <readonly/>
    </disk>
    <serial type='file'><source path='/var/log/libvirt/qemu/NAME.serial' append='on'/></serial>
    <video><model type='none'/></video>
    <memballoon model='none'/>
  </devices>
</domain>
)";

// A guest program (tests/qemu/guests/NAME.S) as a bootable floppy, assembled with binutils.
fs::path assemble_guest(const TestEnvironment& env, const fs::path& dir, const std::string& name) {
  SystemProcessRunner runner;
  fs::path source = env.source_dir / "tests/qemu/guests" / (name + ".S");
  fs::path object = dir / (name + ".o"), image = dir / (name + ".img");
  require(run_step(runner, {.argv = {"as", "--32", "-o", object.string(), source.string()}}));
  require(run_step(runner, {.argv = {"ld", "-m", "elf_i386", "-Ttext", "0x7c00", "--oformat",
                                     "binary", "-o", image.string(), object.string()}}));
  REQUIRE(fs::file_size(image) == 512);
  fs::resize_file(image, 1474560);  // a 1.44 MB floppy
  return image;
}

// The counter values a serial log holds, in order (whole lines of 8 hex digits only).
std::vector<unsigned long> counts(const std::string& log) {
  std::vector<unsigned long> values;
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.size() == 8 && line.find_first_not_of("0123456789ABCDEF") == std::string::npos) {
      values.push_back(std::stoul(line, nullptr, 16));
    }
  }
  return values;
}

std::vector<unsigned long> guest_counts(Machine& host) {
  auto text = host.run("cat " + std::string(kSerial) + " 2>/dev/null", 30s);
  return text ? counts(text->output) : std::vector<unsigned long>{};
}

std::string domain_xml(const std::string& name) {
  std::string xml = kDomainXml;
  for (auto at = xml.find("NAME"); at != std::string::npos; at = xml.find("NAME", at)) {
    xml.replace(at, 4, name);
  }
  return xml;
}

std::string domain_state(Machine& host, const std::string& name = "tiny") {
  auto state = host.run("virsh -c qemu:///system domstate " + name + " 2>/dev/null", 30s);
  return state ? trim(state->output) : "unreachable";
}

std::string peer_uri(int peer) {
  return "qemu+ssh://cairn-test@10.0.3." + std::to_string(peer) + "/system?keyfile=" + kKey +
         "&no_verify=1&no_tty=1";
}

// The store's outcome of `version` on `host`, waited for while keeping `machine` running
// (its reboot is a fresh QEMU).
std::optional<fleet::OutcomeRecord> wait_outcome(fleet::FleetStore& store, Machine& machine,
                                                 const std::string& host,
                                                 const std::string& version) {
  auto deadline = std::chrono::steady_clock::now() + 20min;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!machine.running()) return std::nullopt;
    if (auto outcomes = store.outcomes(version)) {
      for (const auto& outcome : *outcomes) {
        if (outcome.host == host) return outcome;
      }
    }
    std::this_thread::sleep_for(5s);
  }
  return std::nullopt;
}

std::vector<std::string> holders(fleet::EtcdClient& etcd) {
  std::vector<std::string> ids;
  for (const auto& lock : require(fleet::list_group_locks(etcd, "evac"))) {
    for (const auto& holder : lock.semaphore.holders) ids.push_back(holder.id);
  }
  return ids;
}

// Waits (up to 2 min) until nobody holds the lock: the steady state comes just after the outcome.
bool lock_free(fleet::EtcdClient& etcd) {
  for (int i = 0; i < 24; ++i) {
    if (holders(etcd).empty()) return true;
    std::this_thread::sleep_for(5s);
  }
  return false;
}

}  // namespace

TEST_CASE("two hypervisors update one after another and their guest never stops",
          "[fleet][evacuation][slow]") {
  auto env = require(TestEnvironment::from_env());
  auto etcd_server = require(testing::EtcdServer::start());
  fs::path dir = env.machine_dir("evac-channel");
  fs::remove_all(dir);
  fs::create_directories(dir / "repo");
  auto channel_server = require(testing::ChannelServer::start(env.source_dir, dir / "repo", dir));
  int channel_port = channel_server.port();
  int etcd_port = std::stoi(etcd_server.endpoint().substr(etcd_server.endpoint().rfind(':') + 1));
  std::uint16_t udp[2] = {require(testing::free_loopback_port()),
                          require(testing::free_loopback_port())};
  auto vars = require(enrolled_vars(env, env.disk("2.0.0")));

  std::vector<Machine> hosts;
  for (int n : {1, 2}) {
    auto options = env.machine("evac-" + std::to_string(n), env.disk("2.0.0"));
    options.ovmf_vars = vars;
    options.memory_mib = 1536;
    options.nic_options = {
        "guestfwd=tcp:10.0.2.100:80-cmd:socat - TCP:127.0.0.1:" + std::to_string(channel_port),
        "guestfwd=tcp:10.0.2.101:2379-cmd:socat - TCP:127.0.0.1:" + std::to_string(etcd_port)};
    std::string settings =
        "[fleet]\nchannel = \"http://10.0.2.100/channels/qemu.json\"\n"
        "store = \"http://10.0.2.101:2379\"\nname = \"evac\"\ngroup = \"rack\"\n"
        "reboot = \"now\"\nlock_ttl = \"30min\"\n"
        "migration_peers = [\"" +
        peer_uri(3 - n) + "\"]\n";
    std::uint16_t mine = udp[n - 1], other = udp[2 - n];
    options.extra_qemu_args.insert(
        options.extra_qemu_args.end(),
        {"-smbios",
         "type=11,value=io.systemd.credential.binary:cairn.update=" + base64_encode(settings),
         "-netdev",
         "socket,id=private,udp=127.0.0.1:" + std::to_string(other) +
             ",localaddr=127.0.0.1:" + std::to_string(mine),
         "-device", "virtio-net-pci,netdev=private,mac=52:54:00:c0:00:0" + std::to_string(n)});
    hosts.push_back(require(Machine::create(options)));
  }
  Machine& host1 = hosts[0];
  Machine& host2 = hosts[1];
  auto started = std::chrono::steady_clock::now();
  for (auto& host : hosts) require(host.start());
  fs::path counter = assemble_guest(env, dir, "counter");
  fs::path busy = assemble_guest(env, dir, "busy");
  { std::ofstream(dir / "tiny.xml") << domain_xml("tiny"); }
  { std::ofstream(dir / "busy.xml") << domain_xml("busy"); }
  std::vector<std::string> ids;
  for (auto& host : hosts) {
    require(host.wait_for_ssh(300s));
    require(host.copy_to_guest(counter, "/tmp/counter.img"));
    require(host.copy_to_guest(busy, "/tmp/busy.img"));
    require(host.copy_to_guest(env.ssh_key(), "/tmp/migrate_key"));
    require(
        host.run_checked("install -D -m 0644 /tmp/counter.img /var/lib/libvirt/images/tiny.img && "
                         "install -D -m 0644 /tmp/busy.img /var/lib/libvirt/images/busy.img && "
                         "install -D -m 0600 /tmp/migrate_key " +
                         std::string(kKey) +
                         " && "
                         "systemctl is-active libvirtd.service"));
    ids.push_back(trim(require(host.run_checked("cat /etc/machine-id"))));
  }
  report_time("two hypervisors up", seconds_since(started));
  // The private network carries libvirt's SSH from one host to the other.
  require(host1.run_checked("timeout 10 bash -c \"</dev/tcp/10.0.3.2/22\"", 30s));
  require(host1.copy_to_guest(dir / "tiny.xml", "/tmp/tiny.xml"));
  require(
      host1.run_checked("virsh -c qemu:///system define /tmp/tiny.xml && "
                        "virsh -c qemu:///system start tiny"));
  auto wait_counting = [&](Machine& host, unsigned long above) {
    for (int i = 0; i < 60; ++i) {
      auto seen = guest_counts(host);
      if (!seen.empty() && seen.back() > above) return seen.back();
      std::this_thread::sleep_for(2s);
    }
    FAIL("the guest's counter does not go above " << above << " on " << host.options().name);
    return 0UL;
  };
  unsigned long before = wait_counting(host1, 2);

  auto etcd = require(fleet::EtcdClient::open(etcd_server.endpoint()));
  auto store =
      fleet::etcd_fleet_store(require(fleet::EtcdClient::open(etcd_server.endpoint())), "evac");
  SystemProcessRunner runner;
  require(run_step(
      runner,
      {.argv = {env.cairn_build().string(), "publish", env.image_dir("2.0.1").string(), "--repo",
                (dir / "repo").string(), "--channel", "qemu", "--keys", env.keys_dir().string()}}));

  // 0. Host 2 is not attested (a verifier configured, no token): it refuses the guest.
  require(host2.run_checked("mkdir -p /run/cairn && touch /run/cairn/attest.toml"));
  auto refused = require(host1.run("cairn-update --json poll", 900s));
  INFO(refused.output);
  auto refused_json = nlohmann::json::parse(refused.output, nullptr, false);
  REQUIRE(refused_json.is_object());
  CHECK(refused_json["installed"] == "2.0.1");
  CHECK(refused_json["rebooting"] == false);
  std::string why = refused_json["message"];
  CHECK_THAT(why, Catch::Contains("domain tiny could not be moved") &&
                      Catch::Contains("not attested") && Catch::Contains("fleet lock given back"));
  CHECK(holders(etcd).empty());
  CHECK(domain_state(host1) == "running");
  require(host2.run_checked("rm /run/cairn/attest.toml"));

  // 0b. A migration cut off halfway: host 2 runs "busy" (30 MiB it cannot skip as zero pages),
  // capped at 1 MiB/s, with a migration_timeout of 5 s. Its poll installs 2.0.1, takes the lock,
  // starts the migration to host 1, aborts it at 5 s, gives the lock back and does not reboot;
  // "busy" runs on host 2 alone.
  require(host2.copy_to_guest(dir / "busy.xml", "/tmp/busy.xml"));
  require(
      host2.run_checked("mkdir -p /run/cairn/update.toml.d && "
                        "printf '[fleet]\\nmigration_timeout = \"5s\"\\n' > "
                        "/run/cairn/update.toml.d/50-short.toml && "
                        "virsh -c qemu:///system create /tmp/busy.xml && sleep 5 && "
                        "virsh -c qemu:///system migrate-setspeed busy 1 2>&1"));
  auto cut = require(host2.run("cairn-update --json poll", 900s));
  INFO(cut.output);
  auto cut_json = nlohmann::json::parse(cut.output, nullptr, false);
  REQUIRE(cut_json.is_object());
  CHECK(cut_json["installed"] == "2.0.1");
  CHECK(cut_json["rebooting"] == false);
  CHECK_THAT(std::string(cut_json["message"]), Catch::Contains("domain busy could not be moved") &&
                                                   Catch::Contains("no end within 5 s") &&
                                                   Catch::Contains("fleet lock given back"));
  CHECK(holders(etcd).empty());
  CHECK(domain_state(host2, "busy") == "running");
  CHECK(trim(require(host1.run_checked("virsh -c qemu:///system list --all --name"))) == "tiny");
  require(host2.run_checked(
      "virsh -c qemu:///system destroy busy && rm /run/cairn/update.toml.d/50-short.toml"));

  // 1. Host 1: lock, migration to host 2, reboot into 2.0.1, window, commit, lock back.
  before = wait_counting(host1, before);
  auto moving = host1.run("cairn-update --json poll", 900s);  // the reboot may cut SSH short
  INFO("host 1's poll: " << (moving ? moving->output : "(SSH cut short by the reboot)"));
  unsigned long on_host2 = wait_counting(host2, before);
  CHECK(domain_state(host2) == "running");
  auto outcome1 = wait_outcome(*store, host1, ids[0], "2.0.1");
  INFO(host1.console_text());
  REQUIRE(outcome1);
  CHECK(outcome1->outcome == fleet::OutcomeKind::committed);
  CHECK(lock_free(etcd));
  report_time("host 1 evacuated, updated and committed", seconds_since(started));

  // 2. Host 2, while host 1 (back on 2.0.1) takes the guest back.
  require(host1.wait_for_ssh(300s));
  require(host1.run_checked("systemctl is-active libvirtd.service", 60s));
  on_host2 = wait_counting(host2, on_host2);
  (void)host2.run("cairn-update --json poll", 900s);
  unsigned long back_on_host1 = wait_counting(host1, on_host2);
  auto outcome2 = wait_outcome(*store, host2, ids[1], "2.0.1");
  INFO(host2.console_text());
  REQUIRE(outcome2);
  CHECK(outcome2->outcome == fleet::OutcomeKind::committed);
  CHECK(lock_free(etcd));
  report_time("both hosts updated, the guest moved twice", seconds_since(started));

  // The guest never stopped: one counter, always rising, across the three serial logs; it runs
  // on host 1 alone (persistent there, undefined on host 2).
  CHECK(back_on_host1 > on_host2);
  CHECK(on_host2 > before);
  auto host1_counts = guest_counts(host1);
  REQUIRE_FALSE(host1_counts.empty());
  CHECK(std::is_sorted(host1_counts.begin(), host1_counts.end()));
  CHECK(std::count(host1_counts.begin(), host1_counts.end(), 1UL) == 1);  // booted once only
  CHECK(domain_state(host1) == "running");
  require(host2.wait_for_ssh(300s));
  // Host 2's log (kept across its reboot) holds only its stint: carried on from where host 1
  // left it, never from a fresh boot.
  auto host2_counts = guest_counts(host2);
  REQUIRE_FALSE(host2_counts.empty());
  CHECK(std::is_sorted(host2_counts.begin(), host2_counts.end()));
  CHECK(host2_counts.front() >= before);
  CHECK(host2_counts.back() < back_on_host1);
  CHECK(trim(require(host2.run_checked("virsh -c qemu:///system list --all --name"))) == "");
  CHECK(trim(require(host1.run_checked("virsh -c qemu:///system list --persistent --name"))) ==
        "tiny");

  // max = 1: at no revision of the semaphore did both hosts hold it; each held it in turn.
  std::string key = fleet::semaphore_key("evac", "rack");
  auto last = require(etcd.get(key));
  REQUIRE(last);
  std::vector<std::string> turns;
  for (std::int64_t revision = last->create_revision; revision <= last->mod_revision; ++revision) {
    auto kv = require(etcd.get_at(key, revision));
    REQUIRE(kv);
    auto semaphore = require(fleet::parse_semaphore(kv->value));
    INFO("revision " << revision << ": " << kv->value);
    CHECK(semaphore.holders.size() <= 1);
    if (kv->mod_revision == revision && !semaphore.holders.empty() &&
        (turns.empty() || turns.back() != semaphore.holders[0].id)) {
      turns.push_back(semaphore.holders[0].id);
    }
  }
  // Host 1's refused attempt, host 2's cut migration, host 1's update, host 2's update.
  CHECK(turns == std::vector<std::string>{ids[0], ids[1], ids[0], ids[1]});
}
