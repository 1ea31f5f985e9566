#include "builder/disk_layout.hpp"

#include <charconv>
#include <regex>
#include <set>

#include "common/toml_reader.hpp"
#include "common/verity.hpp"
#include "common/version.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {
const std::vector<std::string> kRoles = {"esp", "root-a", "verity-a", "root-b", "verity-b", "var"};
}

const LayoutEntry* DiskLayout::find(std::string_view role) const {
  for (const auto& entry : partitions) {
    if (entry.role == role) return &entry;
  }
  return nullptr;
}

Expected<std::uint64_t> parse_size(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string_view unit(end, static_cast<std::size_t>(text.data() + text.size() - end));
  int shift = unit.empty() ? 0 : unit == "K" ? 10 : unit == "M" ? 20 : unit == "G" ? 30 : -1;
  if (ec != std::errc() || shift < 0 || value == 0) {
    return fail(Errc::invalid_input, "not a size: \"" + std::string(text) + "\" (use 512M, 2G…)");
  }
  return value << shift;
}

Expected<DiskLayout> load_disk_layout(const fs::path& file, const DiskSizes& sizes) {
  toml::table root = CAIRN_TRY(parse_toml_file(file));
  TableReader top(root, file, "");
  DiskLayout layout;
  layout.name = CAIRN_TRY(top.string("name"));
  CAIRN_TRY(top.optional_string("description"));
  static const std::regex kGuid("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
  std::set<std::string> seen;
  auto tables = CAIRN_TRY(top.table_array("partition"));
  for (std::size_t i = 0; i < tables.size(); ++i) {
    TableReader reader(*tables[i], file, "partition[" + std::to_string(i) + "]");
    LayoutEntry entry;
    entry.role = CAIRN_TRY(reader.string("role"));
    if (std::find(kRoles.begin(), kRoles.end(), entry.role) == kRoles.end()) {
      return fail(Errc::invalid_input,
                  reader.where("role") + "unknown partition role '" + entry.role + "'");
    }
    if (!seen.insert(entry.role).second) {
      return fail(Errc::invalid_input,
                  reader.where("role") + "partition role '" + entry.role + "' appears twice");
    }
    entry.type_guid = CAIRN_TRY(reader.string("type"));
    if (!std::regex_match(entry.type_guid, kGuid)) {
      return fail(Errc::invalid_input, reader.where("type") + "'" + reader.qualified("type") +
                                           "' is not a lowercase GUID");
    }
    auto size = CAIRN_TRY(reader.string("size"));
    entry.size_bytes = CAIRN_TRY(with_context(parse_size(size), reader.where("size")));
    entry.read_only = CAIRN_TRY(reader.optional_bool("read_only")).value_or(false);
    CAIRN_CHECK(reader.finish());
    layout.partitions.push_back(std::move(entry));
  }
  CAIRN_CHECK(top.finish());
  for (const auto& role : kRoles) {
    if (!layout.find(role)) {
      return fail(Errc::invalid_input, file.string() + ": layout has no '" + role + "' partition");
    }
  }
  auto override_size = [&](const std::optional<std::string>& text,
                           std::initializer_list<const char*> roles) -> Status {
    if (!text) return {};
    auto bytes = CAIRN_TRY(with_context(parse_size(*text), "recipe [disk]"));
    for (auto& entry : layout.partitions) {
      for (const char* role : roles) {
        if (entry.role == role) entry.size_bytes = bytes;
      }
    }
    return {};
  };
  CAIRN_CHECK(override_size(sizes.esp, {"esp"}));
  CAIRN_CHECK(override_size(sizes.root, {"root-a", "root-b"}));
  CAIRN_CHECK(override_size(sizes.verity, {"verity-a", "verity-b"}));
  CAIRN_CHECK(override_size(sizes.var, {"var"}));
  return layout;
}

Expected<GptDisk> image_disk(const DiskLayout& layout, const std::string& image_name,
                             const std::string& version, const Sha256Digest& root_hash) {
  std::string seed = "cairn " + image_name + " " + version + " " + to_hex(root_hash);
  GptDisk disk{.disk_guid = stable_uuid(seed + " disk")};
  for (const auto& entry : layout.partitions) {
    GptPartition part{.type_guid = entry.type_guid,
                      .uuid = stable_uuid(seed + " " + entry.role),
                      .size_bytes = entry.size_bytes,
                      .attributes = entry.read_only ? kGptReadOnlyAttribute : 0};
    if (entry.role == "esp") part.label = "esp";
    if (entry.role == "var") part.label = "var";
    if (entry.role == "root-a") {
      part.label = root_partition_name(version);
      part.uuid = verity_data_partition_uuid(root_hash);
    }
    if (entry.role == "verity-a") {
      part.label = verity_partition_name(version);
      part.uuid = verity_hash_partition_uuid(root_hash);
    }
    if (entry.role == "root-b") part.label = kEmptyRootName;
    if (entry.role == "verity-b") part.label = kEmptyVerityName;
    disk.partitions.push_back(std::move(part));
  }
  return plan_layout(std::move(disk));
}

}  // namespace cairn::builder
