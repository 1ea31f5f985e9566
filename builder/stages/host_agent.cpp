#include "builder/stages/host_agent.hpp"

#include <cstdlib>

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

}  // namespace

fs::path find_update_binary() {
  if (const char* env = std::getenv("CAIRN_UPDATE_BINARY"); env && *env) return env;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  for (const fs::path& candidate : {self.parent_path().parent_path() / "updater/cairn-update",
                                    self.parent_path() / "cairn-update"}) {
    if (fs::is_regular_file(candidate, ec)) return candidate;
  }
  return {};
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
  for (auto [library, package] :
       {std::pair{"libarchive.so.13", "libarchive13"}, std::pair{"libcurl.so.4", "libcurl4"},
        std::pair{"libtomlplusplus.so.3", "libtomlplusplus3"}}) {
    if (!fs::exists(tree / "usr/lib/x86_64-linux-gnu" / library, ec)) {
      return fail(Errc::invalid_input, std::string("cairn-update needs ") + library + ": add \"" +
                                           package + "\" to debian.packages");
    }
  }
  CAIRN_CHECK(copy_file_to(input.update_binary, tree / "usr/bin/cairn-update", fs::perms(0755)));
  for (const char* unit : {"cairn-update.service", "cairn-health.service"}) {
    CAIRN_CHECK(copy_file_to(input.dist_dir / unit, tree / "usr/lib/systemd/system" / unit,
                             fs::perms(0644)));
  }
  CAIRN_CHECK(copy_file_to(input.dist_dir / "org.cairn.Update1.conf",
                           tree / "usr/share/dbus-1/system.d/org.cairn.Update1.conf",
                           fs::perms(0644)));
  // Enabled as their [Install] sections say; boot-complete.target requiring cairn-health is
  // what makes the health window gate the blessing of a boot entry.
  for (auto [dir, unit] : {std::pair{"multi-user.target.wants", "cairn-update.service"},
                           std::pair{"multi-user.target.wants", "cairn-health.service"},
                           std::pair{"boot-complete.target.requires", "cairn-health.service"}}) {
    fs::path link_dir = tree / "usr/lib/systemd/system" / dir;
    fs::create_directories(link_dir, ec);
    fs::remove(link_dir / unit, ec);
    fs::create_symlink(std::string("../") + unit, link_dir / unit, ec);
    if (ec) return fail(Errc::io, std::string("enabling ") + unit + ": " + ec.message());
  }
  return {};
}

}  // namespace cairn::builder
