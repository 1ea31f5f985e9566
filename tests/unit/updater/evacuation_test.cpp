// The evacuation policy over a fake hypervisor: peers tried in order, shutdown by policy, and
// the first domain that cannot leave stopping everything.
#include "updater/evacuation.hpp"

#include <catch2/catch.hpp>
#include <map>
#include <set>

using namespace cairn;
using namespace cairn::updater;
using namespace std::chrono_literals;

namespace {

class FakeHypervisor final : public Hypervisor {
 public:
  Expected<std::vector<std::string>> running_domains() override {
    if (down) return std::unexpected(Error(Errc::unavailable, "libvirtd is not running"));
    return std::vector<std::string>(running.begin(), running.end());
  }
  Status migrate(const std::string& domain, const std::string& peer,
                 std::chrono::seconds timeout) override {
    attempts.push_back(domain + "→" + peer + "/" + std::to_string(timeout.count()));
    if (auto it = refusals.find(peer); it != refusals.end()) {
      return std::unexpected(Error(Errc::unavailable, it->second));
    }
    running.erase(domain);
    elsewhere[domain] = peer;
    return {};
  }
  Status shut_down(const std::string& domain, std::chrono::seconds) override {
    running.erase(domain);
    stopped.push_back(domain);
    return {};
  }
  std::set<std::string> running;
  std::map<std::string, std::string> refusals;  // peer → why
  std::map<std::string, std::string> elsewhere;
  std::vector<std::string> attempts, stopped;
  bool down = false;
};

}  // namespace

TEST_CASE("every running domain goes to the first peer that takes it", "[evacuation]") {
  FakeHypervisor hypervisor;
  hypervisor.running = {"db-1", "web-1"};
  hypervisor.refusals["qemu+ssh://kvm-2/system"] = "not attested: admission refused";
  auto report =
      evacuate(hypervisor,
               {.peers = {"qemu+ssh://kvm-2/system", "qemu+ssh://kvm-3/system"}, .timeout = 90s});
  REQUIRE(report);
  CHECK(hypervisor.running.empty());
  CHECK(hypervisor.elsewhere ==
        std::map<std::string, std::string>{{"db-1", "qemu+ssh://kvm-3/system"},
                                           {"web-1", "qemu+ssh://kvm-3/system"}});
  CHECK(hypervisor.attempts.front() == "db-1→qemu+ssh://kvm-2/system/90");
  CHECK(report->summary() ==
        "moved db-1 → qemu+ssh://kvm-3/system, web-1 → qemu+ssh://kvm-3/system");
}

TEST_CASE("a domain no peer takes stops the evacuation, naming each reason", "[evacuation]") {
  FakeHypervisor hypervisor;
  hypervisor.running = {"a-small", "b-huge", "c-never-tried"};
  auto policy = EvacuationPolicy{.peers = {"qemu+ssh://kvm-2/system"}};
  // a-small moved earlier; now kvm-2 is full.
  auto first = hypervisor.migrate("a-small", "qemu+ssh://kvm-2/system", 1s);
  REQUIRE(first);
  hypervisor.refusals["qemu+ssh://kvm-2/system"] = "no room for 8 GiB";
  auto report = evacuate(hypervisor, policy);
  REQUIRE_FALSE(report);
  CHECK(report.error().code() == Errc::busy);
  CHECK(report.error().message() ==
        "domain b-huge could not be moved: qemu+ssh://kvm-2/system: no room for 8 GiB");
  CHECK(hypervisor.running.contains("b-huge"));
  CHECK(hypervisor.running.contains("c-never-tried"));
}

TEST_CASE("the domains already moved are named when a later one stays", "[evacuation]") {
  FakeHypervisor hypervisor;
  hypervisor.running = {"a", "b"};
  struct OnlyA final : Hypervisor {
    FakeHypervisor& inner;
    explicit OnlyA(FakeHypervisor& h) : inner(h) {}
    Expected<std::vector<std::string>> running_domains() override {
      return inner.running_domains();
    }
    Status migrate(const std::string& d, const std::string& p, std::chrono::seconds t) override {
      if (d == "b") return std::unexpected(Error(Errc::unavailable, "migration job aborted"));
      return inner.migrate(d, p, t);
    }
    Status shut_down(const std::string& d, std::chrono::seconds t) override {
      return inner.shut_down(d, t);
    }
  } only_a(hypervisor);
  auto report = evacuate(only_a, {.peers = {"qemu+tls://kvm-2/system"}});
  REQUIRE_FALSE(report);
  CHECK_THAT(report.error().message(),
             Catch::Contains("domain b could not be moved") &&
                 Catch::Contains("(already moved a → qemu+tls://kvm-2/system)"));
}

TEST_CASE("domains the policy shuts down are shut down, not moved", "[evacuation]") {
  FakeHypervisor hypervisor;
  hypervisor.running = {"scratch", "web-1"};
  auto report =
      evacuate(hypervisor, {.peers = {"qemu+ssh://kvm-2/system"}, .shutdown_domains = {"scratch"}});
  REQUIRE(report);
  CHECK(hypervisor.stopped == std::vector<std::string>{"scratch"});
  CHECK(hypervisor.elsewhere.contains("web-1"));
  CHECK(report->summary() == "moved web-1 → qemu+ssh://kvm-2/system; shut down scratch");

  hypervisor.running = {"x", "y"};
  auto all = evacuate(hypervisor, {.shutdown_domains = {"*"}});
  REQUIRE(all);
  CHECK(hypervisor.running.empty());
}

TEST_CASE("without peers a running domain stays, and without libvirt nothing is known",
          "[evacuation]") {
  FakeHypervisor hypervisor;
  auto nothing = evacuate(hypervisor, {});
  REQUIRE(nothing);
  CHECK(nothing->summary() == "no running domain to move");
  hypervisor.running = {"web-1"};
  auto stuck = evacuate(hypervisor, {});
  REQUIRE_FALSE(stuck);
  CHECK_THAT(stuck.error().message(), Catch::Contains("no migration_peers configured"));
  hypervisor.down = true;
  auto down = evacuate(hypervisor, {.peers = {"qemu+ssh://kvm-2/system"}});
  REQUIRE_FALSE(down);
  CHECK_THAT(down.error().describe(),
             Catch::Contains("listing the running domains") && Catch::Contains("not running"));
}
