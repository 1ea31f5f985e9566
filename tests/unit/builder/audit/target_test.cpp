#include "builder/audit/target.hpp"

#include <catch2/catch.hpp>

#include "fixture_tree.hpp"

using namespace cairn;
using namespace cairn::builder::audit;
using cairn::testing::FixtureTree;

TEST_CASE("the kernel takes the last value of a command-line parameter") {
  CHECK(cmdline_value("a=1 intel_iommu=on b intel_iommu=off", "intel_iommu") == "off");
  CHECK(cmdline_value("a=1 slab_nomerge", "slab_nomerge") == "");
  CHECK_FALSE(cmdline_value("a=1 slab_nomerge", "slab").has_value());
  CHECK(cmdline_value("iommu.strict=1", "iommu") == std::nullopt);
}

TEST_CASE("sysctl.d files apply in name order, /etc hides /usr/lib, sysctl.conf last") {
  FixtureTree tree;
  tree.write("/usr/lib/sysctl.d/10-a.conf", "a.b = 1\nc.d=1\n# e.f = 9\n");
  tree.write("/usr/lib/sysctl.d/50-b.conf", "a.b = 2\n");
  tree.write("/etc/sysctl.d/50-b.conf", "a.b = 3\n");  // hides /usr/lib/sysctl.d/50-b.conf
  tree.write("/etc/sysctl.conf", "-c/d = 4\n");
  AuditTarget target{.kind = "tree", .root = tree.root()};
  auto values = configured_sysctls(target);
  CHECK(values["a.b"].value == "3");
  CHECK(values["a.b"].file == "/etc/sysctl.d/50-b.conf");
  CHECK(values["c.d"].value == "4");
  CHECK_FALSE(values.contains("e.f"));
}

TEST_CASE("fstab options of a mount point, and the shadow file's password fields") {
  FixtureTree tree;
  tree.write("/etc/fstab",
             "# /tmp tmpfs\nPARTLABEL=var /var ext4 defaults,nodev 0 2\ntmpfs /tmp tmpfs\n");
  tree.write("/etc/shadow", "root:!*:19000:0:99999:7:::\nops:$6$x$y:19000::::::\n");
  AuditTarget target{.kind = "tree", .root = tree.root()};
  CHECK(fstab_options(target, "/var") == "defaults,nodev");
  CHECK(fstab_options(target, "/tmp") == "defaults");
  CHECK_FALSE(fstab_options(target, "/home").has_value());
  auto shadow = shadow_entries(target);
  REQUIRE(shadow.size() == 2);
  CHECK(shadow[0] == std::pair<std::string, std::string>{"root", "!*"});
  CHECK(shadow[1].second == "$6$x$y");
}

TEST_CASE("the live host seam reads /proc and /sys") {
  FixtureTree host;
  host.write("/proc/cmdline", "BOOT_IMAGE=x intel_iommu=on\n");
  host.write("/proc/sys/kernel/kptr_restrict", "2\n");
  host.write("/proc/self/mountinfo",
             "22 1 0:21 / /tmp rw,relatime - tmpfs tmpfs rw\n"
             "23 1 0:22 / /tmp rw,nosuid,nodev,noexec - tmpfs tmpfs rw\n");
  host.write("/sys/kernel/security/lockdown", "none [integrity] confidentiality\n");
  host.write("/sys/firmware/efi/efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c",
             std::string("\x06\x00\x00\x00\x01", 5));
  host.write("/sys/kernel/iommu_groups/0/type", "DMA\n");
  host.write("/sys/kernel/iommu_groups/1/type", "DMA\n");
  host.write("/sys/module/kvm_intel/parameters/nested", "N\n");
  ProcSysLiveHost live(host.root());
  CHECK(live.cmdline() == "BOOT_IMAGE=x intel_iommu=on");
  CHECK(live.sysctl("kernel.kptr_restrict") == "2");
  CHECK_FALSE(live.sysctl("kernel.absent").has_value());
  CHECK(live.mount_options("/tmp") == "rw,nosuid,nodev,noexec");  // the last mount wins
  CHECK_FALSE(live.mount_options("/var").has_value());
  CHECK(live.lockdown() == "none [integrity] confidentiality");
  CHECK(live.secure_boot() == true);
  CHECK(live.iommu_groups() == 2u);
  CHECK(live.module_parameter("kvm_intel", "nested") == "N");
  CHECK_FALSE(live.module_parameter("kvm_amd", "nested").has_value());

  FixtureTree bare;
  ProcSysLiveHost nothing(bare.root());
  CHECK_FALSE(nothing.secure_boot().has_value());
  CHECK_FALSE(nothing.iommu_groups().has_value());
  CHECK_FALSE(nothing.lockdown().has_value());
}
