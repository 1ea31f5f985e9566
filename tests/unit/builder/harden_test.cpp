#include "builder/stages/harden.hpp"

#include <catch2/catch.hpp>

#include "builder/audit/audit.hpp"
#include "common/fs.hpp"
#include "common/process.hpp"
#include "unit/builder/audit/fixture_tree.hpp"

using namespace cairn;
using namespace cairn::builder;
using cairn::testing::FixtureTree;

namespace {

// The parts of a Debian kvm-host tree the anssi-hypervisor profile touches or checks.
void debian_like_tree(const FixtureTree& tree) {
  auto overlay = data_dir() / "recipes/overlays/common";
  tree.write("/etc/fstab", read_file(overlay / "etc/fstab").value());
  tree.write("/etc/ssh/sshd_config.d/cairn.conf",
             read_file(overlay / "etc/ssh/sshd_config.d/cairn.conf").value());
  tree.write("/etc/shadow", "root:!*:19000:0:99999:7:::\nops:!:19000::::::\n");
  tree.write("/etc/libvirt/libvirtd.conf",
             "#access_drivers = [ \"polkit\" ]\n#audit_logging = 1\n");
  tree.write("/etc/libvirt/qemu.conf", "#user = \"libvirt-qemu\"\n#seccomp_sandbox = 1\n");
  for (const char* unit : {"nftables", "auditd", "chrony", "apparmor"}) {
    tree.link("/etc/systemd/system/multi-user.target.wants/" + std::string(unit) + ".service",
              "/usr/lib/systemd/system/" + std::string(unit) + ".service");
  }
  tree.write("/usr/share/factory/var/lib/dpkg/status",
             "Package: polkitd\nStatus: install ok installed\n");
}

Recipe kvm_recipe() {
  Recipe recipe;
  recipe.admin_interface = "admin0";
  return recipe;
}

audit::ComplianceReport audit_tree(const HardeningProfile& profile, const FixtureTree& tree,
                                   const std::map<std::string, std::string>& vars,
                                   std::string extra_cmdline = {}) {
  auto catalogue = audit::load_control_catalogue(data_dir() / "hardening/controls").value();
  std::string cmdline;
  for (const auto& param : profile.cmdline()) cmdline += param + " ";
  audit::AuditTarget target{.kind = "image",
                            .description = "fixture",
                            .root = tree.root(),
                            .cmdline = cmdline + extra_cmdline};
  return audit::run_audit(profile, catalogue, target, vars);
}

}  // namespace

TEST_CASE("fstab: missing options are appended, absent mount points added") {
  MountSetting tmp{.path = "/tmp", .options = {"nodev", "noexec"}};
  auto merged = merge_fstab("# c\ntmpfs  /tmp  tmpfs  defaults,nodev  0 0\n", tmp);
  REQUIRE(merged.has_value());
  CHECK(*merged == "# c\ntmpfs  /tmp  tmpfs  defaults,nodev,noexec  0 0\n");
  MountSetting shm{.path = "/dev/shm", .source = "tmpfs", .fstype = "tmpfs", .options = {"nosuid"}};
  CHECK(merge_fstab("", shm) == "tmpfs  /dev/shm  tmpfs  nosuid  0  0\n");
  CHECK_FALSE(merge_fstab("", tmp).has_value());  // no source/fstype to add a line with
}

TEST_CASE("libvirt keys: active assignments commented out, the profile's appended") {
  LibvirtSetting setting{.file = "qemu.conf",
                         .key = "user",
                         .value = "\"libvirt-qemu\"",
                         .tags = {.controls = {"DAT-NT-011:R1"}, .profile = "p"}};
  auto text = set_libvirt_key("#user = \"x\"\nuser = \"root\"\nuser_x = 1\n", setting);
  CHECK(text ==
        "#user = \"x\"\n#cairn: user = \"root\"\nuser_x = 1\n\n"
        "# Cairn hardening profile 'p' (DAT-NT-011:R1)\nuser = \"libvirt-qemu\"\n");
}

TEST_CASE("template variables come from the recipe's knobs") {
  auto vars = hardening_variables(kvm_recipe());
  CHECK(vars["admin_interface"] == "admin0");
  CHECK(vars["migration"] == "false");
  CHECK(vars["nested"] == "0");
  CHECK_THAT(vars["migration_ports_rule"], Catch::StartsWith("#"));
  auto recipe = kvm_recipe();
  recipe.migration = true;
  CHECK(hardening_variables(recipe)["migration_ports_rule"] ==
        "iifname \"admin0\" tcp dport 49152-49215 accept");
  CHECK_FALSE(hardening_variables(Recipe{}).contains("admin_interface"));
}

TEST_CASE("anssi-hypervisor applied to a tree passes its own audit") {
  auto profile = load_hardening_profile(data_dir() / "hardening", "anssi-hypervisor").value();
  FixtureTree tree;
  debian_like_tree(tree);
  auto vars = hardening_variables(kvm_recipe());
  REQUIRE(apply_hardening(profile, vars, tree.root()).has_value());
  auto report = audit_tree(profile, tree, vars);
  INFO(report.table());
  CHECK(report.passed());
  for (const auto& control : report.controls) {
    if (control.control.id == "DAT-NT-011:R4") {
      CHECK(control.status == audit::ControlStatus::enforced);
    }
  }
  auto record = read_file(tree.root() / "usr/lib/cairn/hardening.json").value();
  CHECK_THAT(record, Catch::Contains("\"profile\": \"anssi-hypervisor\""));
  auto fstab = read_file(tree.root() / "etc/fstab").value();
  CHECK_THAT(fstab, Catch::Contains("defaults,nodev,nosuid,mode=1777,noexec"));
  CHECK_THAT(fstab, Catch::Contains("tmpfs  /dev/shm  tmpfs  nodev,nosuid,noexec  0  0"));
}

TEST_CASE("a weakened image fails with exactly the control points it weakens") {
  auto profile = load_hardening_profile(data_dir() / "hardening", "anssi-hypervisor").value();
  auto failed_with = [&](Recipe recipe, std::string extra_cmdline,
                         std::string shadow) -> std::vector<std::string> {
    FixtureTree tree;
    debian_like_tree(tree);
    auto vars = hardening_variables(recipe);
    REQUIRE(apply_hardening(profile, vars, tree.root()).has_value());
    if (!shadow.empty()) tree.write("/etc/shadow", shadow);
    auto report = audit_tree(profile, tree, vars, extra_cmdline);
    CHECK_FALSE(report.passed());
    return report.failed_controls();
  };
  auto migration = kvm_recipe();
  migration.migration = true;
  CHECK(failed_with(migration, "", "") == std::vector<std::string>{"DAT-NT-011:R3"});
  auto nested = kvm_recipe();
  nested.nested_virtualization = true;
  CHECK(failed_with(nested, "", "") == std::vector<std::string>{"DAT-NT-011:R1"});
  CHECK(failed_with(kvm_recipe(), "intel_iommu=off", "") ==
        std::vector<std::string>{"DAT-NT-011:R4"});
  CHECK(failed_with(kvm_recipe(), "", "root:!*:1::::::\nops:$6$salt$hash:1::::::\n") ==
        std::vector<std::string>{"DAT-NT-011:R6"});
}

TEST_CASE("a profile that needs the admin interface refuses a recipe without one") {
  auto profile = load_hardening_profile(data_dir() / "hardening", "anssi-hypervisor").value();
  FixtureTree tree;
  debian_like_tree(tree);
  auto applied = apply_hardening(profile, hardening_variables(Recipe{}), tree.root());
  REQUIRE_FALSE(applied.has_value());
  CHECK_THAT(applied.error().describe(),
             Catch::Contains("/etc/nftables.conf") && Catch::Contains("[network] admin_interface"));
}

TEST_CASE("the profile's sysctls are applied after Debian's own 99-* files") {
  HardeningProfile profile{.name = "p"};
  profile.settings.push_back({.kind = "sysctl",
                              .key = "fs.protected_fifos",
                              .value = "2",
                              .tags = {.controls = {"BP-028:R14"}}});
  FixtureTree tree;
  // procps ships this in Debian 12.
  tree.write("/usr/lib/sysctl.d/99-protect-links.conf", "fs.protected_fifos = 1\n");
  REQUIRE(apply_hardening(profile, {}, tree.root()).has_value());
  audit::AuditTarget target{.kind = "tree", .root = tree.root()};
  CHECK(audit::configured_sysctls(target)["fs.protected_fifos"].value == "2");
}

namespace {

// Runs the profile's polkit rules in duktape, the JavaScript engine polkitd 122 embeds, with a
// stand-in for polkitd's `polkit` object; prints one verdict per (action, user, groups) case.
std::string polkit_verdicts(const Recipe& recipe, const std::string& cases) {
  auto profile = load_hardening_profile(data_dir() / "hardening", "anssi-hypervisor").value();
  FixtureTree tree;
  debian_like_tree(tree);
  REQUIRE(apply_hardening(profile, hardening_variables(recipe), tree.root()).has_value());
  auto rules = read_file(tree.root() / "etc/polkit-1/rules.d/60-cairn-libvirt.rules").value();
  std::string script =
      "var rules = [];\n"
      "var polkit = {Result: {YES: 'yes', NO: 'no', NOT_HANDLED: null},\n"
      "  addRule: function(f) { rules.push(f); }};\n" +
      rules +
      "\nfunction verdict(id, user, groups) {\n"
      "  var subject = {user: user, isInGroup: function(g) { return groups.indexOf(g) >= 0; }};\n"
      "  for (var i = 0; i < rules.length; i++) {\n"
      "    var r = rules[i]({id: id}, subject);\n"
      "    if (r !== null && r !== undefined) return r;\n"
      "  }\n"
      "  return 'default';\n"
      "}\n" +
      cases;
  tree.write("/check.js", script);
  SystemProcessRunner runner;
  auto out = run_checked(
      runner, {.argv = {"duk", (tree.root() / "check.js").string()}, .capture_stdout = true});
  REQUIRE(out.has_value());
  return *out;
}

}  // namespace

TEST_CASE("the libvirt ACL separates administrators from VM operators and refuses migration") {
  std::string cases =
      "print(verdict('org.libvirt.api.domain.migrate', 'root', []));\n"
      "print(verdict('org.libvirt.api.domain.migrate', 'ops', ['cairn-admin']));\n"
      "print(verdict('org.libvirt.api.domain.write', 'ops', ['cairn-admin']));\n"
      "print(verdict('org.libvirt.api.domain.write', 'root', []));\n"
      "print(verdict('org.libvirt.api.domain.start', 'vmop', ['cairn-vm-operator']));\n"
      "print(verdict('org.libvirt.api.domain.write', 'vmop', ['cairn-vm-operator']));\n"
      "print(verdict('org.libvirt.api.network.write', 'vmop', ['cairn-vm-operator']));\n"
      "print(verdict('org.libvirt.unix.manage', 'guest', []));\n"
      "print(verdict('org.freedesktop.login1.reboot', 'vmop', ['cairn-vm-operator']));\n";
  CHECK(polkit_verdicts(kvm_recipe(), cases) ==
        "no\nno\nyes\nyes\nyes\nno\nno\ndefault\ndefault\n");
  auto migration = kvm_recipe();
  migration.migration = true;
  CHECK(polkit_verdicts(migration, cases).starts_with("yes\nyes\n"));
}
