#include "builder/stages/host_agent.hpp"

#include <cstdlib>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

#include "common/fs.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

Status copy_file_to(const fs::path& from, const fs::path& to, fs::perms mode) {
  std::error_code ec;
  fs::create_directories(to.parent_path(), ec);
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (!ec) fs::permissions(to, mode, ec);
  if (ec) return fail(Errc::io, "installing " + to.string() + ": " + ec.message());
  return {};
}

// `program` from $`variable`, else beside this cairn-build: <build>/<subdir>/<program> in a build
// tree, or the same directory once installed.
fs::path find_sibling_binary(const char* variable, const char* subdir, const char* program) {
  if (const char* env = std::getenv(variable); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const fs::path& candidate :
       {self.parent_path().parent_path() / subdir / program, self.parent_path() / program}) {
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  return {};
}

// An updater helper: beside this cairn-build, or in <prefix>/lib/cairn once installed.
fs::path find_updater_helper(const char* variable, const char* program) {
  fs::path found = find_sibling_binary(variable, "updater", program);
  if (!found.empty()) return found;
  std::error_code ec;
  fs::path installed =
      fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path() / "lib/cairn" / program;
  return !ec && fs::is_regular_file(installed, ec) ? installed : fs::path();
}

Status require_libraries(const fs::path& tree, std::string_view program,
                         std::initializer_list<std::pair<const char*, const char*>> libraries) {
  std::error_code ec;
  for (auto [library, package] : libraries) {
    if (!fs::exists(tree / "usr/lib/x86_64-linux-gnu" / library, ec)) {
      return fail(Errc::invalid_input, std::string(program) + " needs " + library + ": add \"" +
                                           package + "\" to debian.packages");
    }
  }
  return {};
}

Status enable_units(const fs::path& tree,
                    std::initializer_list<std::pair<const char*, const char*>> links) {
  std::error_code ec;
  for (auto [dir, unit] : links) {
    fs::path link_dir = tree / "usr/lib/systemd/system" / dir;
    fs::create_directories(link_dir, ec);
    fs::remove(link_dir / unit, ec);
    fs::create_symlink(std::string("../") + unit, link_dir / unit, ec);
    if (ec) return fail(Errc::io, std::string("enabling ") + unit + ": " + ec.message());
  }
  return {};
}

// cairn-attest, the timer that keeps its admission token fresh, the libvirt hook that asks for
// the token and the health window's check that rolls back an image the verifier denies. All of
// it stays inert until a verifier is configured (/etc/cairn/attest.toml or /run/cairn/).
Status install_attestation_agent(const HostAgentInput& input, const fs::path& tree) {
  CAIRN_CHECK(require_libraries(tree, "cairn-attest",
                                {{"libtss2-esys.so.0", "libtss2-esys-3.0.2-0"},
                                 {"libtss2-tctildr.so.0", "libtss2-tctildr0"},
                                 {"libtss2-rc.so.0", "libtss2-rc0"},
                                 {"libcurl.so.4", "libcurl4"}}));
  const fs::path& dist = input.attest_dist_dir;
  CAIRN_CHECK(copy_file_to(input.attest_binary, tree / "usr/bin/cairn-attest", fs::perms(0755)));
  for (const char* unit : {"cairn-attest.service", "cairn-attest.timer"}) {
    CAIRN_CHECK(copy_file_to(dist / unit, tree / "usr/lib/systemd/system" / unit, fs::perms(0644)));
  }
  CAIRN_CHECK(copy_file_to(dist / "attest-refresh", tree / "usr/lib/cairn/attest-refresh",
                           fs::perms(0755)));
  CAIRN_CHECK(copy_file_to(dist / "libvirt-hook",
                           tree / "etc/libvirt/hooks/qemu.d/20-cairn-attestation",
                           fs::perms(0755)));
  CAIRN_CHECK(copy_file_to(dist / "health-check",
                           tree / "etc/cairn/health.d/required.d/50-attestation", fs::perms(0755)));
  return enable_units(tree, {{"timers.target.wants", "cairn-attest.timer"}});
}

// A program cairn-update runs, into /usr/lib/cairn; `binary` empty: it was not found.
Status install_helper(const fs::path& binary, const fs::path& tree, std::string_view name,
                      std::string_view variable, std::string_view needed_because) {
  if (binary.empty()) {
    return fail(Errc::not_found, std::string(name) + " was not found beside cairn-build (or $" +
                                     std::string(variable) + "): " + std::string(needed_because));
  }
  return copy_file_to(binary, tree / "usr/lib/cairn" / name, fs::perms(0755));
}

}  // namespace

fs::path find_update_binary() {
  return find_sibling_binary("CAIRN_UPDATE_BINARY", "updater", "cairn-update");
}

fs::path find_evacuate_binary() {
  return find_updater_helper("CAIRN_EVACUATE_BINARY", "cairn-evacuate");
}

fs::path find_poll_trigger_binary() {
  return find_updater_helper("CAIRN_POLL_TRIGGER_BINARY", "cairn-poll-trigger");
}

fs::path find_attest_binary() {
  return find_sibling_binary("CAIRN_ATTEST_BINARY", "attest", "cairn-attest");
}

Status install_host_agent(const HostAgentInput& input, const fs::path& tree) {
  std::error_code ec;
  fs::path trust = tree / "usr/share/cairn/trust";
  fs::create_directories(trust, ec);
  for (const auto& entry : fs::directory_iterator(input.trust_dir, ec)) {
    CAIRN_CHECK(copy_file_to(entry.path(), trust / entry.path().filename(), fs::perms(0644)));
  }
  if (ec) return fail(Errc::io, "reading " + input.trust_dir.string() + ": " + ec.message());
  fs::create_directories(tree / "usr/lib/cairn", ec);
  CAIRN_CHECK(write_file_atomic(tree / "usr/lib/cairn/machine-class", input.machine_class + "\n"));
  if (input.update_binary.empty()) return {};

  // The shared libraries cairn-update links that a minimal Debian does not bring.
  CAIRN_CHECK(require_libraries(tree, "cairn-update",
                                {{"libarchive.so.13", "libarchive13"},
                                 {"libcurl.so.4", "libcurl4"},
                                 {"libtomlplusplus.so.3", "libtomlplusplus3"}}));
  CAIRN_CHECK(copy_file_to(input.update_binary, tree / "usr/bin/cairn-update", fs::perms(0755)));
  CAIRN_CHECK(install_helper(input.poll_trigger_binary, tree, "cairn-poll-trigger",
                             "CAIRN_POLL_TRIGGER_BINARY", "cairn-update.timer runs it"));
  if (fs::exists(tree / "usr/lib/x86_64-linux-gnu/libvirt.so.0", ec)) {
    // A host with guests moves them away before a reboot; without the tool it would refuse to.
    CAIRN_CHECK(install_helper(input.evacuate_binary, tree, "cairn-evacuate",
                               "CAIRN_EVACUATE_BINARY", "the image has libvirt"));
  }
  for (const char* unit :
       {"cairn-update.service", "cairn-health.service", "cairn-update-poll.service",
        "cairn-update-poll.socket", "cairn-update.timer"}) {
    CAIRN_CHECK(copy_file_to(input.dist_dir / unit, tree / "usr/lib/systemd/system" / unit,
                             fs::perms(0644)));
  }
  CAIRN_CHECK(copy_file_to(input.dist_dir / "org.cairn.Update1.conf",
                           tree / "usr/share/dbus-1/system.d/org.cairn.Update1.conf",
                           fs::perms(0644)));
  // Enabled as their [Install] sections say; boot-complete.target requiring cairn-health is
  // what makes the health window gate the blessing of a boot entry.
  CAIRN_CHECK(enable_units(tree, {{"multi-user.target.wants", "cairn-update.service"},
                                  {"multi-user.target.wants", "cairn-health.service"},
                                  {"timers.target.wants", "cairn-update.timer"},
                                  {"sockets.target.wants", "cairn-update-poll.socket"},
                                  {"boot-complete.target.requires", "cairn-health.service"}}));
  if (input.attest_binary.empty()) return {};
  return install_attestation_agent(input, tree);
}

}  // namespace cairn::builder
