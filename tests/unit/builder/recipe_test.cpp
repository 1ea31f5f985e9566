#include "builder/recipe.hpp"

#include <catch2/catch.hpp>

#include "builder/hardening_profile.hpp"
#include "common/fs.hpp"

using namespace cairn;
using namespace cairn::builder;
namespace fs = std::filesystem;

namespace {

// Writes `text` as a recipe in a fresh temp dir and loads it.
struct RecipeFile {
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-recipe-").value();
  Expected<Recipe> load(std::string_view text) {
    auto path = dir.path() / "r.toml";
    REQUIRE(write_file_atomic(path, text).has_value());
    return load_recipe(path);
  }
};

constexpr std::string_view kValid = R"(
[image]
name = "t"
version = "1.0"
[debian]
packages = ["linux-image-cloud-amd64"]
)";

std::string error_of(const Expected<Recipe>& result) {
  REQUIRE_FALSE(result.has_value());
  return result.error().describe();
}

}  // namespace

TEST_CASE("the shipped recipes load") {
  for (const char* name : {"kvm-host", "minimal"}) {
    auto recipe = load_recipe(data_dir() / "recipes" / (std::string(name) + ".toml"));
    REQUIRE(recipe.has_value());
    CHECK(recipe->name == name);
    CHECK(recipe->suite == "bookworm");
    CHECK(recipe->mirrors.empty());  // default: the build machine's apt sources
    CHECK_FALSE(recipe->packages.empty());
    CHECK(recipe->users.empty());  // the shipped recipes carry no credentials
    auto profile = load_hardening_profile(data_dir() / "hardening", recipe->hardening_profile);
    REQUIRE(profile.has_value());
    CHECK_FALSE(profile->cmdline().empty());
  }
}

TEST_CASE("a minimal recipe gets defaults") {
  RecipeFile file;
  auto recipe = file.load(kValid);
  REQUIRE(recipe.has_value());
  CHECK(recipe->machine_class == "x86_64-t");
  CHECK(recipe->components == std::vector<std::string>{"main"});
  CHECK(recipe->disk_layout == "ab-disk");
  CHECK(recipe->enable_units.empty());
  CHECK(recipe->disable_units.empty());
}

TEST_CASE("the recipe lists units to enable and units to disable") {
  RecipeFile file;
  auto recipe = file.load(std::string(kValid) + R"(
[systemd]
enable = ["ssh.service"]
disable = ["e2scrub_reap.service", "dpkg-db-backup.timer"]
)");
  REQUIRE(recipe.has_value());
  CHECK(recipe->enable_units == std::vector<std::string>{"ssh.service"});
  CHECK(recipe->disable_units ==
        std::vector<std::string>{"e2scrub_reap.service", "dpkg-db-backup.timer"});
  CHECK_THAT(error_of(file.load(std::string(kValid) + "[systemd]\ndisable = \"e2scrub\"\n")),
             Catch::Contains("disable"));
}

TEST_CASE("an unknown key is named with its line and a suggestion") {
  RecipeFile file;
  auto message = error_of(file.load(std::string(kValid) + "pakages = [\"x\"]\n"));
  CHECK_THAT(message, Catch::Contains("r.toml:7: unknown key 'debian.pakages'"));
  auto nested = error_of(file.load(R"(
[image]
name = "t"
version = "1.0"
[debian]
pakages = ["linux-image-amd64"]
packages = ["linux-image-amd64"]
)"));
  CHECK_THAT(nested,
             Catch::Contains("unknown key 'debian.pakages' (did you mean 'debian.packages'?)"));
}

TEST_CASE("a wrong type is named") {
  RecipeFile file;
  auto message = error_of(file.load(R"(
[image]
name = "t"
version = 1
)"));
  CHECK_THAT(message,
             Catch::Contains("r.toml:4: 'image.version' must be a string, not an integer"));
}

TEST_CASE("passwords are refused") {
  RecipeFile file;
  auto message = error_of(file.load(std::string(kValid) + R"(
[[users]]
name = "admin"
password = "hunter2"
ssh_keys = ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq admin@example"]
)"));
  CHECK_THAT(message, Catch::Contains("passwords are not allowed"));
}

TEST_CASE("users need a real SSH key and may not be root") {
  RecipeFile file;
  CHECK_THAT(error_of(file.load(std::string(kValid) +
                                "[[users]]\nname = \"admin\"\nssh_keys = [\"hello\"]\n")),
             Catch::Contains("not an SSH public key line"));
  CHECK_THAT(
      error_of(file.load(std::string(kValid) + "[[users]]\nname = \"root\"\nssh_keys = []\n")),
      Catch::Contains("root stays locked"));
  auto ok = file.load(std::string(kValid) +
                      "[[users]]\nname = \"ops\"\ngroups = [\"sudo\"]\n"
                      "ssh_keys = [\"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGq ops@example\"]\n");
  REQUIRE(ok.has_value());
  REQUIRE(ok->users.size() == 1);
  CHECK(ok->users[0].groups == std::vector<std::string>{"sudo"});
}

TEST_CASE("a version with '+' is refused because boot counting uses it") {
  RecipeFile file;
  CHECK_THAT(error_of(file.load("[image]\nname = \"t\"\nversion = \"1+2\"\n")),
             Catch::Contains("'image.version' = \"1+2\" is not valid"));
}

TEST_CASE("a missing overlay directory and a missing file are named") {
  RecipeFile file;
  CHECK_THAT(error_of(file.load(std::string(kValid) + "[overlay]\ndir = \"nope\"\n")),
             Catch::Contains("'overlay.dir':"));
  auto missing = load_recipe("/nonexistent/recipe.toml");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code() == Errc::not_found);
}

TEST_CASE("a TOML syntax error names file, line and column") {
  RecipeFile file;
  CHECK_THAT(error_of(file.load("[image\nname = 1\n")), Catch::Contains("r.toml:1:"));
}

TEST_CASE("hardening profiles resolve extends and reject untagged settings") {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-profile-").value();
  REQUIRE(write_file_atomic(dir.path() / "parent.toml",
                            "name = \"parent\"\n[[sysctl]]\nkey = \"a.b\"\nvalue = \"1\"\n"
                            "controls = [\"X:1\"]\n")
              .has_value());
  REQUIRE(write_file_atomic(dir.path() / "child.toml",
                            "name = \"child\"\nextends = \"parent\"\n[[sysctl]]\nkey = \"a.b\"\n"
                            "value = \"2\"\ncontrols = [\"X:2\"]\n[[cmdline]]\nvalue = \"q=1\"\n"
                            "controls = [\"Y\"]\n")
              .has_value());
  auto profile = load_hardening_profile(dir.path(), "child");
  REQUIRE(profile.has_value());
  CHECK(profile->chain == std::vector<std::string>{"parent", "child"});
  CHECK(profile->cmdline() == std::vector<std::string>{"q=1"});
  CHECK_THAT(profile->sysctl_conf(), Catch::Contains("a.b = 2") && !Catch::Contains("a.b = 1"));

  REQUIRE(write_file_atomic(dir.path() / "bad.toml",
                            "name = \"bad\"\n[[sysctl]]\nkey = \"a\"\nvalue = \"1\"\n")
              .has_value());
  auto bad = load_hardening_profile(dir.path(), "bad");
  REQUIRE_FALSE(bad.has_value());
  CHECK_THAT(bad.error().describe(), Catch::Contains("must name the control point"));
  CHECK_FALSE(load_hardening_profile(dir.path(), "absent").has_value());
}

TEST_CASE("the security version defaults to 1 and may not be negative") {
  RecipeFile file;
  auto recipe = file.load(kValid);
  REQUIRE(recipe.has_value());
  CHECK(recipe->security_version == 1);
  auto raised = file.load(R"(
[image]
name = "t"
version = "1.0"
security_version = 7
[debian]
packages = ["linux-image-cloud-amd64"]
)");
  REQUIRE(raised.has_value());
  CHECK(raised->security_version == 7);
  CHECK_THAT(error_of(file.load(R"(
[image]
name = "t"
version = "1.0"
security_version = -2
[debian]
packages = ["linux-image-cloud-amd64"]
)")),
             Catch::Contains("image.security_version"));
}

TEST_CASE("users are administrators or VM operators") {
  RecipeFile file;
  auto recipe = file.load(std::string(kValid) +
                          "[[users]]\nname = \"ops\"\nssh_keys = [\"ssh-ed25519 AAAAC3Nz ops\"]\n"
                          "[[users]]\nname = \"vmop\"\nrole = \"operator\"\n"
                          "ssh_keys = [\"ssh-ed25519 AAAAC3Nz vmop\"]\n");
  REQUIRE(recipe.has_value());
  REQUIRE(recipe->users.size() == 2);
  CHECK(recipe->users[0].role == "admin");
  CHECK(recipe->users[1].role == "operator");
  CHECK_THAT(error_of(file.load(std::string(kValid) + "[[users]]\nname = \"x\"\nrole = \"root\"\n"
                                                      "ssh_keys = [\"ssh-ed25519 AAAAC3Nz x\"]\n")),
             Catch::Contains("r.toml:9: 'users[0].role' = \"root\" is not a role"));
}

TEST_CASE("the recipe names its admin interface and turns migration and nesting on") {
  RecipeFile file;
  auto defaults = file.load(kValid);
  REQUIRE(defaults.has_value());
  CHECK(defaults->admin_interface.empty());
  CHECK_FALSE(defaults->migration);
  CHECK_FALSE(defaults->nested_virtualization);
  auto set = file.load(std::string(kValid) +
                       "[network]\nadmin_interface = \"eno1\"\n"
                       "[virtualization]\nmigration = true\nnested = true\n");
  REQUIRE(set.has_value());
  CHECK(set->admin_interface == "eno1");
  CHECK(set->migration);
  CHECK(set->nested_virtualization);
  CHECK_THAT(
      error_of(file.load(std::string(kValid) + "[network]\nadmin_interface = \"eth0; drop\"\n")),
      Catch::Contains("'network.admin_interface' = \"eth0; drop\" is not valid"));
  CHECK_THAT(error_of(file.load(std::string(kValid) + "[virtualization]\nmigrate = true\n")),
             Catch::Contains("unknown key 'virtualization.migrate'"));
}
