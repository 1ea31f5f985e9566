#include "builder/stages/host_agent.hpp"

#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& path, std::string_view text) {
  fs::create_directories(path.parent_path());
  REQUIRE(write_file_atomic(path, text).has_value());
}

// A root tree with the libraries cairn-update needs, stand-in binaries and the dist files.
struct AgentTree {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-host-agent-").value();
  fs::path tree = dir.path() / "tree";
  HostAgentInput input{.trust_dir = dir.path() / "trust",
                       .machine_class = "kvm-host",
                       .update_binary = dir.path() / "bin/cairn-update",
                       .dist_dir = dir.path() / "dist",
                       .evacuate_binary = dir.path() / "bin/cairn-evacuate",
                       .poll_trigger_binary = dir.path() / "bin/cairn-poll-trigger"};

  AgentTree() {
    for (const char* library : {"libarchive.so.13", "libcurl.so.4", "libtomlplusplus.so.3"}) {
      put(tree / "usr/lib/x86_64-linux-gnu" / library, "elf");
    }
    put(input.trust_dir / "ca.crt", "anchor");
    for (const char* name : {"cairn-update", "cairn-evacuate", "cairn-poll-trigger"}) {
      put(dir.path() / "bin" / name, name);
    }
    for (const char* unit :
         {"cairn-update.service", "cairn-health.service", "cairn-update-poll.service",
          "cairn-update-poll.socket", "cairn-update.timer", "org.cairn.Update1.conf"}) {
      put(input.dist_dir / unit, unit);
    }
  }
  bool executable(const fs::path& path) const {
    struct stat st {};
    return ::stat((tree / path).c_str(), &st) == 0 && (st.st_mode & 0777) == 0755;
  }
};

}  // namespace

TEST_CASE("the host agent brings the timer's poll trigger and its socket", "[host-agent]") {
  AgentTree agent;
  REQUIRE(install_host_agent(agent.input, agent.tree).has_value());
  CHECK(agent.executable("usr/bin/cairn-update"));
  CHECK(agent.executable("usr/lib/cairn/cairn-poll-trigger"));
  CHECK(read_file(agent.tree / "usr/lib/cairn/cairn-poll-trigger").value() == "cairn-poll-trigger");
  CHECK(fs::exists(agent.tree / "usr/lib/systemd/system/cairn-update-poll.socket"));
  auto link = agent.tree / "usr/lib/systemd/system/sockets.target.wants/cairn-update-poll.socket";
  REQUIRE(fs::is_symlink(link));
  CHECK(fs::read_symlink(link) == "../cairn-update-poll.socket");
  CHECK(read_file(agent.tree / "usr/lib/cairn/machine-class").value() == "kvm-host\n");
  // No libvirt in this tree: no evacuation tool either.
  CHECK_FALSE(fs::exists(agent.tree / "usr/lib/cairn/cairn-evacuate"));
}

TEST_CASE("an image with cairn-update but no poll trigger is refused by name", "[host-agent]") {
  AgentTree agent;
  agent.input.poll_trigger_binary.clear();
  auto installed = install_host_agent(agent.input, agent.tree);
  REQUIRE_FALSE(installed.has_value());
  CHECK(installed.error().code() == Errc::not_found);
  CHECK_THAT(installed.error().describe(), Catch::Contains("cairn-poll-trigger") &&
                                               Catch::Contains("$CAIRN_POLL_TRIGGER_BINARY"));
}

TEST_CASE("an image with libvirt gets the evacuation tool, or a clear refusal", "[host-agent]") {
  AgentTree agent;
  put(agent.tree / "usr/lib/x86_64-linux-gnu/libvirt.so.0", "elf");
  REQUIRE(install_host_agent(agent.input, agent.tree).has_value());
  CHECK(agent.executable("usr/lib/cairn/cairn-evacuate"));

  AgentTree without;
  put(without.tree / "usr/lib/x86_64-linux-gnu/libvirt.so.0", "elf");
  without.input.evacuate_binary.clear();
  auto refused = install_host_agent(without.input, without.tree);
  REQUIRE_FALSE(refused.has_value());
  CHECK_THAT(refused.error().describe(),
             Catch::Contains("cairn-evacuate") && Catch::Contains("libvirt"));
}

TEST_CASE("an image without cairn-update needs no poll trigger", "[host-agent]") {
  AgentTree agent;
  agent.input.update_binary.clear();
  agent.input.poll_trigger_binary.clear();
  REQUIRE(install_host_agent(agent.input, agent.tree).has_value());
  CHECK_FALSE(fs::exists(agent.tree / "usr/lib/cairn/cairn-poll-trigger"));
  CHECK(fs::exists(agent.tree / "usr/share/cairn/trust/ca.crt"));
}
