#include "builder/image_inspect.hpp"

#include <sstream>

#include "builder/stages/uki.hpp"
#include "common/fs.hpp"
#include "common/pe.hpp"
#include "common/verity.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

constexpr const char* kEspType = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b";

std::string field(const std::string& text, std::string_view key, char separator) {
  std::istringstream stream(text);
  for (std::string token; std::getline(stream, token, separator);) {
    if (token.starts_with(key)) {
      std::string value = token.substr(key.size());
      std::erase(value, '"');
      std::erase(value, '\n');
      return value;
    }
  }
  return {};
}

}  // namespace

bool ImageReport::all_valid() const {
  for (const auto& entry : entries) {
    if (entry.signature == "invalid" || entry.verity != "valid") return false;
  }
  return !entries.empty();
}

nlohmann::json ImageReport::to_json() const {
  nlohmann::json out = {{"kind", "disk-image"}, {"disk_guid", disk.disk_guid}};
  out["partitions"] = nlohmann::json::array();
  for (const auto& part : disk.partitions) {
    out["partitions"].push_back({{"number", part.number},
                                 {"label", part.label},
                                 {"type", part.type_guid},
                                 {"uuid", part.uuid},
                                 {"start", part.start_bytes},
                                 {"size", part.size_bytes},
                                 {"read_only", (part.attributes & kGptReadOnlyAttribute) != 0}});
  }
  out["entries"] = nlohmann::json::array();
  for (const auto& entry : entries) {
    out["entries"].push_back({{"file", entry.file},
                              {"version", entry.version},
                              {"root_hash", entry.root_hash},
                              {"signature", entry.signature},
                              {"verity", entry.verity}});
  }
  if (!entries.empty()) {  // the newest entry, which systemd-boot boots by default
    out["version"] = entries.front().version;
    out["root_hash"] = entries.front().root_hash;
    out["uki"] = {{"file", entries.front().file}, {"signature", entries.front().signature}};
    out["verity"] = entries.front().verity;
  }
  out["valid"] = all_valid();
  return out;
}

Expected<ImageReport> inspect_disk_image(const fs::path& image, const fs::path& db_cert,
                                         ProcessRunner& runner) {
  ImageReport report;
  report.disk = CAIRN_TRY(read_gpt(image));
  const GptPartition* esp = nullptr;
  for (const auto& part : report.disk.partitions) {
    if (part.type_guid == kEspType) esp = &part;
  }
  if (!esp) return fail(Errc::invalid_input, image.string() + " has no ESP");
  std::string esp_ref = image.string() + "@@" + std::to_string(esp->start_bytes);
  auto listing = CAIRN_TRY(
      with_context(run_checked(runner, {.argv = {"mdir", "-b", "-i", esp_ref, "::/EFI/Linux"},
                                        .env = {{"MTOOLS_SKIP_CHECK", "1"}},
                                        .capture_stdout = true}),
                   "listing the ESP's boot entries"));
  auto temp = CAIRN_TRY(TempDir::create(fs::temp_directory_path(), "cairn-inspect-"));
  std::istringstream lines(listing);
  std::vector<std::string> files;
  for (std::string line; std::getline(lines, line);) {
    if (line.ends_with(".efi") || line.ends_with(".EFI")) files.push_back(line.substr(2));  // "::"
  }
  std::sort(files.rbegin(), files.rend());
  for (const auto& file : files) {
    BootEntryReport entry{.file = file.substr(1)};
    fs::path local = temp.path() / "entry.efi";
    CAIRN_CHECK(run_step(runner,
                         {.argv = {"mcopy", "-o", "-i", esp_ref, "::" + file, local.string()},
                          .env = {{"MTOOLS_SKIP_CHECK", "1"}}},
                         "reading " + file + " from the ESP"));
    auto bytes = CAIRN_TRY(read_file(local));
    auto pe = CAIRN_TRY(read_pe(local));
    entry.version = field(pe_section_text(bytes, pe, ".osrel"), "IMAGE_VERSION=", '\n');
    entry.root_hash = field(pe_section_text(bytes, pe, ".cmdline"), "roothash=", ' ');
    entry.signature = db_cert.empty()                                ? "unchecked"
                      : verify_efi_signature(local, db_cert, runner) ? "valid"
                                                                     : "invalid";
    entry.verity = "no slot";
    auto digest = from_hex(entry.root_hash);
    if (digest && digest->size() == 32) {
      Sha256Digest root{};
      std::copy(digest->begin(), digest->end(), root.begin());
      const GptPartition *data = nullptr, *hash = nullptr;
      for (const auto& part : report.disk.partitions) {
        if (part.uuid == verity_data_partition_uuid(root)) data = &part;
        if (part.uuid == verity_hash_partition_uuid(root)) hash = &part;
      }
      if (data && hash) {
        auto verified =
            verify_verity(image, image, entry.root_hash, data->start_bytes, hash->start_bytes);
        entry.verity = verified ? "valid" : "invalid: " + verified.error().message();
      }
    }
    report.entries.push_back(std::move(entry));
  }
  return report;
}

}  // namespace cairn::builder
