#include "attest/host/config.hpp"

#include "common/host_name.hpp"
#include "common/system_credential.hpp"
#include "common/toml_reader.hpp"

namespace cairn::attest::host {

namespace fs = std::filesystem;

namespace {

Status apply_file(const fs::path& file, AgentConfig& config) {
  toml::table root = CAIRN_TRY(parse_toml_file(file));
  TableReader reader(root, file, "");
  // "a.pem" beside the file, as a credential names another credential.
  auto path_in = [&](const std::string& value) {
    fs::path path(value);
    return path.is_relative() ? file.parent_path() / path : path;
  };
  if (auto value = CAIRN_TRY(reader.optional_string("verifier_url"))) {
    config.verifier_url = *value;
  }
  if (auto value = CAIRN_TRY(reader.optional_string("verifier_key"))) {
    config.verifier_key = path_in(*value);
  }
  if (auto value = CAIRN_TRY(reader.optional_string("verifier_ca"))) {
    config.verifier_ca = path_in(*value);
  }
  if (auto value = CAIRN_TRY(reader.optional_string("host"))) {
    if (value->empty() ||
        value->find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789._-") != std::string::npos) {
      return fail(Errc::invalid_input,
                  reader.where("host") + "'host' must be non-empty [A-Za-z0-9._-]");
    }
    config.host = *value;
  }
  if (auto value = CAIRN_TRY(reader.optional_string("tcti"))) config.tcti = *value;
  if (auto value = CAIRN_TRY(reader.optional_string("event_log"))) {
    config.event_log = path_in(*value);
  }
  if (auto value = CAIRN_TRY(reader.optional_string("systemd_log"))) {
    config.systemd_log = path_in(*value);
  }
  if (auto value = CAIRN_TRY(reader.optional_string("token"))) config.token = path_in(*value);
  return reader.finish();
}

}  // namespace

std::vector<fs::path> default_config_files() {
  return {"/etc/cairn/attest.toml", system_credential("cairn.attest"), "/run/cairn/attest.toml"};
}

Expected<AgentConfig> load_agent_config(const std::vector<fs::path>& files) {
  AgentConfig config;
  for (const auto& file : files) {
    std::error_code ec;
    if (!fs::exists(file, ec)) continue;
    CAIRN_CHECK(apply_file(file, config));
  }
  if (config.host.empty()) config.host = host_name();
  return config;
}

Expected<AgentConfig> load_agent_config_file(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) {
    return fail(Errc::not_found, "configuration " + file.string() + ": no such file");
  }
  return load_agent_config({file});
}

}  // namespace cairn::attest::host
