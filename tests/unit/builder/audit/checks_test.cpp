#include "builder/audit/checks.hpp"

#include <catch2/catch.hpp>

#include "fixture_tree.hpp"

using namespace cairn;
using namespace cairn::builder;
using namespace cairn::builder::audit;
using cairn::testing::FixtureTree;

namespace {

Tags tags(std::string control) { return Tags{.controls = {std::move(control)}}; }

const CheckResult& only(const std::vector<CheckResult>& results) {
  REQUIRE(results.size() == 1);
  return results[0];
}

CheckResult run_one(const HardeningProfile& profile, const AuditTarget& target,
                    const std::map<std::string, std::string>& vars = {}) {
  return only(run_checks(profile, target, vars));
}

CheckResult explicit_check(std::string type, const AuditTarget& target, std::string value = {},
                           std::string path = {}) {
  HardeningProfile profile;
  profile.checks.push_back(
      {.id = "c", .type = std::move(type), .path = path, .value = value, .tags = tags("X:1")});
  return run_one(profile, target);
}

}  // namespace

TEST_CASE("mount options in effect: a later positive option undoes a no-option") {
  CHECK(mount_option_in_effect("defaults,nodev,nosuid", "nodev"));
  CHECK_FALSE(mount_option_in_effect("nodev,defaults", "nodev"));
  CHECK_FALSE(mount_option_in_effect("noexec,exec", "noexec"));
  CHECK(mount_option_in_effect("rw,mode=1777", "mode=1777"));
  CHECK_FALSE(mount_option_in_effect("rw", "noexec"));
}

TEST_CASE("command-line checks: present, overridden later, accepted stricter value, unknown") {
  HardeningProfile profile;
  profile.settings.push_back({.kind = "cmdline",
                              .key = "mitigations",
                              .value = "mitigations=auto",
                              .accept = {"mitigations=auto,nosmt"},
                              .tags = tags("DAT-NT-011:R1")});
  AuditTarget target{.kind = "image", .cmdline = "ro mitigations=auto"};
  CHECK(run_one(profile, target).status == CheckStatus::pass);
  target.cmdline = "mitigations=auto mitigations=off";
  auto overridden = run_one(profile, target);
  CHECK(overridden.status == CheckStatus::fail);
  CHECK_THAT(overridden.evidence, Catch::Contains("ends with mitigations=off"));
  target.cmdline = "mitigations=auto,nosmt";
  CHECK(run_one(profile, target).status == CheckStatus::pass);
  target.cmdline = "quiet";
  CHECK_THAT(run_one(profile, target).evidence, Catch::Contains("not on the command line"));
  target.cmdline.reset();
  CHECK(run_one(profile, target).status == CheckStatus::skipped);
}

TEST_CASE("sysctl checks read sysctl.d in a tree and /proc/sys on a host") {
  HardeningProfile profile;
  profile.settings.push_back(
      {.kind = "sysctl", .key = "kernel.kptr_restrict", .value = "2", .tags = tags("X:1")});
  FixtureTree tree;
  AuditTarget target{.kind = "tree", .root = tree.root()};
  CHECK_THAT(run_one(profile, target).evidence, Catch::Contains("no sysctl.d file sets"));
  tree.write("/usr/lib/sysctl.d/90-cairn.conf", "kernel.kptr_restrict = 2\n");
  CHECK(run_one(profile, target).status == CheckStatus::pass);
  tree.write("/etc/sysctl.d/99-local.conf", "kernel.kptr_restrict = 0\n");
  auto weakened = run_one(profile, target);
  CHECK(weakened.status == CheckStatus::fail);
  CHECK(weakened.evidence == "/etc/sysctl.d/99-local.conf sets kernel.kptr_restrict = 0");

  FixtureTree proc;
  proc.write("/proc/sys/kernel/kptr_restrict", "1\n");
  ProcSysLiveHost live(proc.root());
  AuditTarget host{.kind = "host", .root = tree.root(), .live = &live};
  CHECK(run_one(profile, host).evidence == "running kernel has kernel.kptr_restrict = 1");
}

TEST_CASE("mount checks name the missing options") {
  HardeningProfile profile;
  profile.mounts.push_back(
      {.path = "/tmp", .options = {"nodev", "nosuid", "noexec"}, .tags = tags("X:1")});
  FixtureTree tree;
  tree.write("/etc/fstab", "tmpfs /tmp tmpfs defaults,nodev,nosuid 0 0\n");
  AuditTarget target{.kind = "tree", .root = tree.root()};
  auto result = run_one(profile, target);
  CHECK(result.status == CheckStatus::fail);
  CHECK_THAT(result.evidence, Catch::Contains("(missing noexec)"));
  tree.write("/etc/fstab", "tmpfs /tmp tmpfs defaults,nodev,nosuid,noexec 0 0\n");
  CHECK(run_one(profile, target).status == CheckStatus::pass);
}

TEST_CASE("file checks compare the rendered content and the mode") {
  HardeningProfile profile;
  profile.files.push_back({.path = "/etc/x.conf",
                           .content = "iface {{admin_interface}}\n",
                           .mode = 0600,
                           .tags = tags("X:1")});
  FixtureTree tree;
  AuditTarget target{.kind = "tree", .root = tree.root()};
  std::map<std::string, std::string> vars = {{"admin_interface", "admin0"}};
  CHECK_THAT(run_one(profile, target, vars).evidence, Catch::Contains("is missing"));
  tree.write("/etc/x.conf", "iface admin0\n", 0600);
  CHECK(run_one(profile, target, vars).status == CheckStatus::pass);
  tree.write("/etc/x.conf", "iface admin0\n", 0644);
  CHECK_THAT(run_one(profile, target, vars).evidence, Catch::Contains("mode 0644, not 0600"));
  tree.write("/etc/x.conf", "iface eth0\n", 0600);
  CHECK_THAT(run_one(profile, target, vars).evidence, Catch::Contains("differs"));
  CHECK_THAT(run_one(profile, target, {}).evidence, Catch::Contains("{{admin_interface}}"));
}

TEST_CASE("libvirt checks want exactly one active assignment with the value") {
  HardeningProfile profile;
  profile.libvirt.push_back(
      {.file = "qemu.conf", .key = "seccomp_sandbox", .value = "1", .tags = tags("X:1")});
  FixtureTree tree;
  AuditTarget target{.kind = "tree", .root = tree.root()};
  tree.write("/etc/libvirt/qemu.conf", "#seccomp_sandbox = 1\n");
  CHECK_THAT(run_one(profile, target).evidence, Catch::Contains("does not set seccomp_sandbox"));
  tree.write("/etc/libvirt/qemu.conf", "#seccomp_sandbox = 1\nseccomp_sandbox  =  1\n");
  CHECK(run_one(profile, target).status == CheckStatus::pass);
  tree.write("/etc/libvirt/qemu.conf", "seccomp_sandbox = 0\n");
  CHECK(run_one(profile, target).evidence == "/etc/libvirt/qemu.conf sets seccomp_sandbox = 0");
  tree.write("/etc/libvirt/qemu.conf", "seccomp_sandbox = 1\nseccomp_sandbox = 0\n");
  CHECK_THAT(run_one(profile, target).evidence, Catch::Contains("2 times"));
}

TEST_CASE("account checks: root locked, no passwords, no host keys") {
  FixtureTree tree;
  AuditTarget target{.kind = "tree", .root = tree.root()};
  tree.write("/etc/shadow", "root:!*:1::::::\nops:!:1::::::\ndaemon:*:1::::::\n");
  CHECK(explicit_check("root-locked", target).status == CheckStatus::pass);
  CHECK(explicit_check("no-passwords", target).status == CheckStatus::pass);
  tree.write("/etc/shadow", "root:$6$salt$hash:1::::::\nops::1::::::\n");
  CHECK(explicit_check("root-locked", target).evidence == "root has a password hash");
  CHECK(explicit_check("no-passwords", target).evidence ==
        "accounts with a usable password: root (password hash), ops (empty password)");
  CHECK(explicit_check("no-host-keys", target).status == CheckStatus::pass);
  tree.write("/etc/ssh/ssh_host_ed25519_key", "secret", 0600);
  CHECK(explicit_check("no-host-keys", target).evidence ==
        "host keys baked into the image: ssh_host_ed25519_key");
}

TEST_CASE("unit, package and line checks") {
  FixtureTree tree;
  AuditTarget target{.kind = "tree", .root = tree.root()};
  CHECK(explicit_check("unit-enabled", target, "auditd.service").status == CheckStatus::fail);
  tree.link("/etc/systemd/system/multi-user.target.wants/auditd.service",
            "/usr/lib/systemd/system/auditd.service");
  CHECK(explicit_check("unit-enabled", target, "auditd.service").status == CheckStatus::pass);
  tree.link("/etc/systemd/system/chrony.service", "/dev/null");
  CHECK(explicit_check("unit-enabled", target, "chrony.service").evidence ==
        "chrony.service is masked");

  tree.write("/usr/share/factory/var/lib/dpkg/status",
             "Package: polkitd\nStatus: install ok installed\n\nPackage: gone\n"
             "Status: deinstall ok config-files\n");
  CHECK(explicit_check("package", target, "polkitd").status == CheckStatus::pass);
  CHECK(explicit_check("package", target, "gone").evidence == "gone is not installed");

  tree.write("/etc/ssh/sshd_config.d/cairn.conf", "PasswordAuthentication   no\n");
  CHECK(explicit_check("line", target, "PasswordAuthentication no",
                       "/etc/ssh/sshd_config.d/cairn.conf")
            .status == CheckStatus::pass);
  CHECK_THAT(
      explicit_check("line", target, "PermitRootLogin no", "/etc/ssh/sshd_config.d/cairn.conf")
          .evidence,
      Catch::Contains("has no line \"PermitRootLogin no\""));
}

TEST_CASE("live checks are skipped on a tree and read the host's kernel state") {
  FixtureTree tree;
  AuditTarget target{.kind = "tree", .root = tree.root()};
  for (const char* type : {"iommu-active", "secure-boot", "lockdown", "nested-off"}) {
    CHECK(explicit_check(type, target).status == CheckStatus::skipped);
  }
  FixtureTree host;
  host.write("/sys/kernel/security/lockdown", "[none] integrity confidentiality\n");
  host.write("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
             std::string("\x06\x00\x00\x00\x00", 5));
  host.write("/sys/module/kvm_amd/parameters/nested", "1\n");
  ProcSysLiveHost live(host.root());
  target.kind = "host";
  target.live = &live;
  CHECK(explicit_check("iommu-active", target).evidence ==
        "no IOMMU groups in /sys/kernel/iommu_groups: the IOMMU is off");
  CHECK(explicit_check("secure-boot", target).evidence == "Secure Boot off");
  CHECK(explicit_check("lockdown", target).status == CheckStatus::fail);
  CHECK(explicit_check("nested-off", target).evidence == "kvm_amd nested=1");
  host.write("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n");
  host.write("/sys/kernel/iommu_groups/3/type", "DMA\n");
  host.write("/sys/module/kvm_amd/parameters/nested", "0\n");
  CHECK(explicit_check("lockdown", target).status == CheckStatus::pass);
  CHECK(explicit_check("iommu-active", target).status == CheckStatus::pass);
  CHECK(explicit_check("nested-off", target).status == CheckStatus::pass);
}
