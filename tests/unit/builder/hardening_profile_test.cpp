#include "builder/hardening_profile.hpp"

#include <catch2/catch.hpp>

#include "builder/audit/controls.hpp"
#include "builder/recipe.hpp"
#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

namespace {

struct ProfileDir {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-profile-").value();
  Expected<HardeningProfile> load(std::string_view text) {
    REQUIRE(
        write_file_atomic(dir.path() / "p.toml", "name = \"p\"\n" + std::string(text)).has_value());
    return load_hardening_profile(dir.path(), "p");
  }
  std::string error(std::string_view text) {
    auto loaded = load(text);
    REQUIRE_FALSE(loaded.has_value());
    return loaded.error().describe();
  }
};

}  // namespace

TEST_CASE("every kind of profile entry is read with its controls and source line") {
  ProfileDir dir;
  auto profile = dir.load(R"(
[[cmdline]]
value = "mitigations=auto"
accept = ["mitigations=auto,nosmt"]
controls = ["D:R1"]
[[mount]]
path = "/tmp"
source = "tmpfs"
fstype = "tmpfs"
options = ["nodev", "noexec"]
controls = ["D:R2"]
[[file]]
path = "/etc/x.conf"
mode = "0600"
content = "a {{nested}}\n"
controls = ["D:R3"]
[[libvirt]]
file = "qemu.conf"
key = "seccomp_sandbox"
value = "1"
controls = ["D:R4"]
why = "sandbox"
[[check]]
id = "root"
type = "root-locked"
required = false
controls = ["D:R5"]
)");
  REQUIRE(profile.has_value());
  REQUIRE(profile->settings.size() == 1);
  CHECK(profile->settings[0].accept == std::vector<std::string>{"mitigations=auto,nosmt"});
  REQUIRE(profile->mounts.size() == 1);
  CHECK(profile->mounts[0].options == std::vector<std::string>{"nodev", "noexec"});
  CHECK_THAT(profile->mounts[0].tags.source, Catch::EndsWith("p.toml:12"));
  REQUIRE(profile->files.size() == 1);
  CHECK(profile->files[0].mode == 0600);
  REQUIRE(profile->libvirt.size() == 1);
  CHECK(profile->libvirt[0].tags.why == "sandbox");
  REQUIRE(profile->checks.size() == 1);
  CHECK_FALSE(profile->checks[0].tags.required);
  CHECK(profile->control_ids() == std::vector<std::string>{"D:R1", "D:R2", "D:R3", "D:R4", "D:R5"});
}

TEST_CASE("profile errors name file, line and key") {
  ProfileDir dir;
  CHECK_THAT(dir.error("[[check]]\nid = \"x\"\ntype = \"magic\"\ncontrols = [\"D\"]\n"),
             Catch::Contains("p.toml:4: 'check[0].type' = \"magic\" is not a check type"));
  CHECK_THAT(
      dir.error("[[check]]\nid = \"x\"\ntype = \"line\"\nvalue = \"a\"\ncontrols = [\"D\"]\n"),
      Catch::Contains("check 'x' of type line needs 'path'"));
  CHECK_THAT(dir.error("[[file]]\npath = \"etc/x\"\ncontent = \"\"\ncontrols = [\"D\"]\n"),
             Catch::Contains("p.toml:3: 'file[0].path' must be an absolute path"));
  CHECK_THAT(dir.error("[[file]]\npath = \"/x\"\nmode = \"0999\"\ncontent = \"x\"\ncontrols = "
                       "[\"D\"]\n"),
             Catch::Contains("'file[0].mode' = \"0999\" is not an octal mode"));
  CHECK_THAT(dir.error("[[libvirt]]\nfile = \"../qemu.conf\"\nkey = \"a\"\nvalue = \"1\"\n"
                       "controls = [\"D\"]\n"),
             Catch::Contains("names a file in /etc/libvirt"));
  CHECK_THAT(dir.error("[[mount]]\npath = \"/tmp\"\noptions = [\"nodev\"]\n"),
             Catch::Contains("'mount[0].controls' must name the control point"));
  CHECK_THAT(dir.error("[[cmdline]]\nvalue = \"a=1\"\naccept = [\"b=2\"]\ncontrols = [\"D\"]\n"),
             Catch::Contains("entry \"b=2\" is not a value of a"));
  CHECK_THAT(dir.error("[[mount]]\npath = \"/tmp\"\noptins = []\noptions = [\"nodev\"]\n"
                       "controls = [\"D\"]\n"),
             Catch::Contains("unknown key 'mount[0].optins'"));
}

TEST_CASE("templates fill {{variables}} and refuse unknown ones") {
  CHECK(render_template("a {{x}} b {{x}}{{y}}", {{"x", "1"}, {"y", "2"}}) == "a 1 b 12");
  CHECK(render_template("no braces {", {}) == "no braces {");
  auto unknown = render_template("{{admin_interface}}", {});
  REQUIRE_FALSE(unknown.has_value());
  CHECK_THAT(unknown.error().message(), Catch::Contains("{{admin_interface}}"));
}

TEST_CASE("the shipped profiles name only catalogued controls, and kvm-host's extends base") {
  auto catalogue = audit::load_control_catalogue(data_dir() / "hardening/controls");
  REQUIRE(catalogue.has_value());
  CHECK(catalogue->find("DAT-NT-011:R9") != nullptr);
  for (const char* name : {"base", "anssi-hypervisor"}) {
    auto profile = load_hardening_profile(data_dir() / "hardening", name);
    REQUIRE(profile.has_value());
    CHECK(audit::check_profile_controls(*profile, *catalogue).has_value());
  }
  auto anssi = load_hardening_profile(data_dir() / "hardening", "anssi-hypervisor").value();
  CHECK(anssi.chain == std::vector<std::string>{"base", "anssi-hypervisor"});
  auto cmdline = anssi.cmdline();
  for (const char* param : {"intel_iommu=on", "iommu.strict=1", "slab_nomerge", "init_on_alloc=1",
                            "page_alloc.shuffle=1", "randomize_kstack_offset=1", "vsyscall=none",
                            "debugfs=off", "lockdown=integrity", "mitigations=auto"}) {
    CHECK(std::find(cmdline.begin(), cmdline.end(), param) != cmdline.end());
  }
  // Every DAT-NT-011 recommendation the profile can enforce is served by at least one entry.
  auto ids = anssi.control_ids();
  for (const char* id : {"DAT-NT-011:R1", "DAT-NT-011:R3", "DAT-NT-011:R4", "DAT-NT-011:R5",
                         "DAT-NT-011:R6", "DAT-NT-011:R7", "DAT-NT-011:R8", "DAT-NT-011:R9"}) {
    CHECK(std::find(ids.begin(), ids.end(), id) != ids.end());
  }

  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-profile-").value();
  REQUIRE(write_file_atomic(dir.path() / "p.toml",
                            "name = \"p\"\n[[sysctl]]\nkey = \"a\"\nvalue = \"1\"\n"
                            "controls = [\"NOPE:1\"]\n")
              .has_value());
  auto unknown = load_hardening_profile(dir.path(), "p").value();
  CHECK_THAT(audit::check_profile_controls(unknown, *catalogue).error().message(),
             Catch::Contains("names control 'NOPE:1'"));
}
