#include "builder/recipe.hpp"

#include <algorithm>
#include <cstdlib>
#include <regex>

#include "common/toml_reader.hpp"
#include "common/version.hpp"

#ifndef CAIRN_SOURCE_DIR
#define CAIRN_SOURCE_DIR ""
#endif

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

Status check_pattern(const TableReader& reader, std::string_view key, const std::string& value,
                     const std::regex& pattern, std::string_view rule) {
  if (std::regex_match(value, pattern)) return {};
  return fail(Errc::invalid_input, reader.where(key) + "'" + reader.qualified(key) + "' = \"" +
                                       value + "\" is not valid: " + std::string(rule));
}

Status read_image(TableReader& top, Recipe& recipe) {
  const toml::table* table = CAIRN_TRY(top.optional_table("image"));
  TableReader image(*table, top.file(), "image");
  recipe.name = CAIRN_TRY(image.string("name"));
  CAIRN_CHECK(check_pattern(image, "name", recipe.name, std::regex("[a-z0-9][a-z0-9-]{0,62}"),
                            "use lowercase letters, digits and '-'"));
  recipe.version = CAIRN_TRY(image.string("version"));
  if (auto valid = check_version(recipe.version); !valid) {
    return fail(Errc::invalid_input, image.where("version") + "'image.version' = \"" +
                                         recipe.version +
                                         "\" is not valid: " + valid.error().message());
  }
  recipe.description = CAIRN_TRY(image.optional_string("description")).value_or("");
  recipe.arch = CAIRN_TRY(image.optional_string("arch")).value_or("x86_64");
  if (recipe.arch != "x86_64") {
    return fail(Errc::invalid_input, image.where("arch") + "'image.arch' = \"" + recipe.arch +
                                         "\" is not supported: Cairn builds x86_64 images only");
  }
  recipe.machine_class =
      CAIRN_TRY(image.optional_string("machine_class")).value_or(recipe.arch + "-" + recipe.name);
  if (auto security = CAIRN_TRY(image.optional_integer("security_version"))) {
    if (*security < 0) {
      return fail(Errc::invalid_input, image.where("security_version") +
                                           "'image.security_version' must not be negative");
    }
    recipe.security_version = static_cast<std::uint64_t>(*security);
  }
  return image.finish();
}

Status read_debian(TableReader& top, Recipe& recipe) {
  const toml::table* table = CAIRN_TRY(top.optional_table("debian"));
  TableReader debian(*table, top.file(), "debian");
  recipe.suite = CAIRN_TRY(debian.optional_string("suite")).value_or("bookworm");
  recipe.mirrors = CAIRN_TRY(debian.string_array("mirrors"));
  for (const auto& mirror : recipe.mirrors) {
    if (mirror.find("://") == std::string::npos) {
      return fail(Errc::invalid_input, debian.where("mirrors") + "'debian.mirrors' entry \"" +
                                           mirror + "\" is not a URL (http://…)");
    }
  }
  auto components = CAIRN_TRY(debian.string_array("components"));
  if (!components.empty()) recipe.components = components;
  recipe.packages = CAIRN_TRY(debian.string_array("packages"));
  static const std::regex kPackage("[a-z0-9][a-z0-9+.-]+");
  for (const auto& package : recipe.packages) {
    CAIRN_CHECK(check_pattern(debian, "packages", package, kPackage, "not a Debian package name"));
  }
  if (recipe.packages.empty()) {
    return fail(Errc::invalid_input,
                debian.where("packages") + "'debian.packages' must list at least a kernel");
  }
  return debian.finish();
}

Status read_users(TableReader& top, Recipe& recipe) {
  auto tables = CAIRN_TRY(top.table_array("users"));
  static const std::regex kUser("[a-z_][a-z0-9_-]{0,31}");
  static const std::regex kKey(
      "(ssh-(ed25519|rsa)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) "
      "[A-Za-z0-9+/=]+( .*)?");
  for (std::size_t i = 0; i < tables.size(); ++i) {
    TableReader user(*tables[i], top.file(), "users[" + std::to_string(i) + "]");
    AdminUser admin;
    admin.name = CAIRN_TRY(user.string("name"));
    CAIRN_CHECK(check_pattern(user, "name", admin.name, kUser, "not a valid user name"));
    if (admin.name == "root") {
      return fail(Errc::invalid_input,
                  user.where("name") + "'root' cannot be an admin user: root stays locked");
    }
    if (tables[i]->contains("password") || tables[i]->contains("password_hash")) {
      return fail(Errc::invalid_input,
                  user.where("password") + "'" + user.qualified("password") +
                      "': passwords are not allowed (no default credentials); use ssh_keys");
    }
    admin.ssh_keys = CAIRN_TRY(user.string_array("ssh_keys"));
    for (const auto& key : admin.ssh_keys) {
      CAIRN_CHECK(check_pattern(user, "ssh_keys", key, kKey, "not an SSH public key line"));
    }
    if (admin.ssh_keys.empty()) {
      return fail(Errc::invalid_input, user.where("ssh_keys") + "'" + user.qualified("ssh_keys") +
                                           "' must hold at least one SSH public key");
    }
    admin.groups = CAIRN_TRY(user.string_array("groups"));
    admin.role = CAIRN_TRY(user.optional_string("role")).value_or("admin");
    if (admin.role != "admin" && admin.role != "operator") {
      return fail(Errc::invalid_input, user.where("role") + "'" + user.qualified("role") +
                                           "' = \"" + admin.role +
                                           "\" is not a role: use \"admin\" or \"operator\"");
    }
    CAIRN_CHECK(user.finish());
    recipe.users.push_back(std::move(admin));
  }
  return {};
}

Status read_disk(TableReader& top, Recipe& recipe) {
  const toml::table* table = CAIRN_TRY(top.optional_table("disk"));
  TableReader disk(*table, top.file(), "disk");
  recipe.disk_layout = CAIRN_TRY(disk.optional_string("layout")).value_or("ab-disk");
  static const std::regex kSize("[0-9]+[KMG]?");
  auto size = [&](std::string_view key) -> Expected<std::optional<std::string>> {
    auto value = CAIRN_TRY(disk.optional_string(key));
    if (value) CAIRN_CHECK(check_pattern(disk, key, *value, kSize, "use a size like 512M or 2G"));
    return value;
  };
  recipe.disk.esp = CAIRN_TRY(size("esp_size"));
  recipe.disk.root = CAIRN_TRY(size("root_size"));
  recipe.disk.verity = CAIRN_TRY(size("verity_size"));
  recipe.disk.var = CAIRN_TRY(size("var_size"));
  return disk.finish();
}

Expected<fs::path> resolve_dir(const TableReader& reader, std::string_view key,
                               const fs::path& base, const std::string& value) {
  fs::path path = fs::path(value).is_absolute() ? fs::path(value) : base / value;
  std::error_code ec;
  if (!fs::is_directory(path, ec)) {
    return fail(Errc::not_found, reader.where(key) + "'" + reader.qualified(key) +
                                     "': " + path.string() + " is not a directory");
  }
  return fs::canonical(path);
}

}  // namespace

fs::path data_dir() {
  if (const char* env = std::getenv("CAIRN_DATA_DIR"); env && *env) return env;
  fs::path source(CAIRN_SOURCE_DIR);
  std::error_code ec;
  if (!source.empty() && fs::is_directory(source / "recipes", ec)) return source;
  return "/usr/share/cairn";
}

Expected<Recipe> load_recipe(const fs::path& path) {
  toml::table root = CAIRN_TRY(parse_toml_file(path));
  Recipe recipe;
  recipe.file = fs::absolute(path);
  TableReader top(root, path, "");
  CAIRN_CHECK(read_image(top, recipe));
  CAIRN_CHECK(read_debian(top, recipe));
  CAIRN_CHECK(read_users(top, recipe));
  CAIRN_CHECK(read_disk(top, recipe));

  const toml::table* overlay_table = CAIRN_TRY(top.optional_table("overlay"));
  TableReader overlay(*overlay_table, path, "overlay");
  if (auto dir = CAIRN_TRY(overlay.optional_string("dir"))) {
    recipe.overlay = CAIRN_TRY(resolve_dir(overlay, "dir", recipe.file.parent_path(), *dir));
  }
  CAIRN_CHECK(overlay.finish());

  const toml::table* hardening_table = CAIRN_TRY(top.optional_table("hardening"));
  TableReader hardening(*hardening_table, path, "hardening");
  recipe.hardening_profile = CAIRN_TRY(hardening.optional_string("profile")).value_or("");
  CAIRN_CHECK(hardening.finish());

  const toml::table* kernel_table = CAIRN_TRY(top.optional_table("kernel"));
  TableReader kernel(*kernel_table, path, "kernel");
  recipe.kernel_cmdline = CAIRN_TRY(kernel.string_array("cmdline"));
  recipe.initrd_drivers = CAIRN_TRY(kernel.string_array("initrd_drivers"));
  CAIRN_CHECK(kernel.finish());

  const toml::table* network_table = CAIRN_TRY(top.optional_table("network"));
  TableReader network(*network_table, path, "network");
  recipe.admin_interface = CAIRN_TRY(network.optional_string("admin_interface")).value_or("");
  if (!recipe.admin_interface.empty()) {
    // nftables' iifname: a kernel interface name (at most 15 characters), '*' as a last wildcard.
    CAIRN_CHECK(check_pattern(network, "admin_interface", recipe.admin_interface,
                              std::regex("[A-Za-z0-9_.-]{1,14}[A-Za-z0-9_.*-]?"),
                              "use an interface name such as \"eno1\" or \"admin0\""));
  }
  CAIRN_CHECK(network.finish());

  const toml::table* virt_table = CAIRN_TRY(top.optional_table("virtualization"));
  TableReader virt(*virt_table, path, "virtualization");
  recipe.migration = CAIRN_TRY(virt.optional_bool("migration")).value_or(false);
  recipe.nested_virtualization = CAIRN_TRY(virt.optional_bool("nested")).value_or(false);
  CAIRN_CHECK(virt.finish());

  const toml::table* systemd_table = CAIRN_TRY(top.optional_table("systemd"));
  TableReader systemd(*systemd_table, path, "systemd");
  recipe.enable_units = CAIRN_TRY(systemd.string_array("enable"));
  recipe.disable_units = CAIRN_TRY(systemd.string_array("disable"));
  CAIRN_CHECK(systemd.finish());

  CAIRN_CHECK(top.finish());
  return recipe;
}

}  // namespace cairn::builder
