// Update bundles built in memory for tests: the manifest of a root, verity and UKI payload, a tar
// archive (pax, as cairn-build writes) of named members, and zstd-compressed payloads. Signing
// the manifest is the caller's.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "common/hash.hpp"
#include "common/manifest.hpp"

namespace cairn::test_bundle {

struct Member {
  std::string name;
  std::string bytes;
  unsigned type = AE_IFREG;  // AE_IFLNK and AE_IFCHR make the members a bundle must refuse
};

// Version 2.0 of image "t" for machine class "x86_64-t", security version 2: the root payload
// zstd-compressed, the others stored.
inline BundleManifest manifest_of(const std::string& root, const std::string& verity,
                                  const std::string& uki, std::string root_hash) {
  auto hex = [](const std::string& data) { return to_hex(sha256(data)); };
  return {
      .name = "t",
      .version = "2.0",
      .security_version = 2,
      .machine_class = "x86_64-t",
      .created = "2023-11-14T22:13:20Z",
      .root_hash = std::move(root_hash),
      .payloads = {
          {"root.erofs.zst", PayloadTarget::root, root.size(), hex(root), PayloadCompression::zstd},
          {"root.verity", PayloadTarget::verity, verity.size(), hex(verity),
           PayloadCompression::none},
          {"uki.efi", PayloadTarget::uki, uki.size(), hex(uki), PayloadCompression::none}}};
}

inline std::string zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
  return out;
}

inline std::string tar(const std::vector<Member>& members) {
  std::string out(1 << 22, '\0');
  std::size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  REQUIRE(archive_write_open_memory(a, out.data(), out.size(), &used) == ARCHIVE_OK);
  for (const auto& member : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, member.name.c_str());
    archive_entry_set_filetype(entry, member.type);
    archive_entry_set_perm(entry, 0644);
    if (member.type == AE_IFLNK) archive_entry_set_symlink(entry, "/etc/shadow");
    archive_entry_set_size(
        entry, member.type == AE_IFREG ? static_cast<la_int64_t>(member.bytes.size()) : 0);
    REQUIRE(archive_write_header(a, entry) == ARCHIVE_OK);
    if (member.type == AE_IFREG) archive_write_data(a, member.bytes.data(), member.bytes.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

}  // namespace cairn::test_bundle
