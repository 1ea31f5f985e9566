#include "builder/bundle.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/version.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kStage = "bundle";
constexpr std::size_t kChunk = 1 << 20;

struct ArchiveFree {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ArchiveWritePtr = std::unique_ptr<archive, ArchiveFree>;
struct EntryFree {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
struct ZstdFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};

std::unexpected<Error> archive_error(archive* a, const std::string& what) {
  const char* message = archive_error_string(a);
  return fail(Errc::io, what + ": " + (message ? message : "libarchive error"));
}

std::string rfc3339(std::int64_t epoch) {
  std::time_t t = static_cast<std::time_t>(epoch);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Reads `input` once: sha256 of its bytes, and (for zstd) the compressed copy at `output`.
// Returns the digest; multi-threaded zstd with a content checksum.
Expected<std::string> hash_and_compress(const fs::path& input, const fs::path& output, int level,
                                        Progress& progress) {
  auto in = CAIRN_TRY(open_file(input, O_RDONLY));
  auto out = CAIRN_TRY(open_file(output, O_WRONLY | O_CREAT | O_TRUNC, 0600));
  std::unique_ptr<ZSTD_CCtx, ZstdFree> context(ZSTD_createCCtx());
  ZSTD_CCtx_setParameter(context.get(), ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(context.get(), ZSTD_c_checksumFlag, 1);
  ZSTD_CCtx_setParameter(context.get(), ZSTD_c_nbWorkers, 2);
  std::uint64_t total = CAIRN_TRY(cairn::file_size(input)), done = 0;
  std::vector<char> buffer(kChunk), compressed(ZSTD_CStreamOutSize());
  Sha256 hasher;
  for (bool last = false; !last;) {
    ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0) return fail_errno("reading " + input.string(), errno);
    last = n == 0;
    hasher.update(std::string_view(buffer.data(), static_cast<std::size_t>(n)));
    ZSTD_inBuffer source{buffer.data(), static_cast<std::size_t>(n), 0};
    ZSTD_EndDirective mode = last ? ZSTD_e_end : ZSTD_e_continue;
    for (bool finished = false; !finished;) {
      ZSTD_outBuffer sink{compressed.data(), compressed.size(), 0};
      std::size_t remaining = ZSTD_compressStream2(context.get(), &sink, &source, mode);
      if (ZSTD_isError(remaining)) {
        return fail(Errc::internal, std::string("zstd: ") + ZSTD_getErrorName(remaining));
      }
      if (::write(out.get(), compressed.data(), sink.pos) != static_cast<ssize_t>(sink.pos)) {
        return fail_errno("writing " + output.string(), errno);
      }
      finished = last ? remaining == 0 : source.pos == source.size;
    }
    done += static_cast<std::uint64_t>(n);
    if (total)
      progress.stage_fraction(kStage, static_cast<double>(done) / static_cast<double>(total));
  }
  return to_hex(hasher.finish());
}

Status add_member(archive* tar, const std::string& name, std::string_view bytes,
                  std::int64_t mtime) {
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(bytes.size()));
  archive_entry_set_mtime(entry.get(), mtime, 0);
  if (archive_write_header(tar, entry.get()) != ARCHIVE_OK) return archive_error(tar, name);
  if (archive_write_data(tar, bytes.data(), bytes.size()) !=
      static_cast<la_ssize_t>(bytes.size())) {
    return archive_error(tar, name);
  }
  return {};
}

Status add_file_member(archive* tar, const std::string& name, const fs::path& file,
                       std::int64_t mtime) {
  std::unique_ptr<archive_entry, EntryFree> entry(archive_entry_new());
  archive_entry_set_pathname(entry.get(), name.c_str());
  archive_entry_set_filetype(entry.get(), AE_IFREG);
  archive_entry_set_perm(entry.get(), 0644);
  archive_entry_set_size(entry.get(), static_cast<la_int64_t>(CAIRN_TRY(cairn::file_size(file))));
  archive_entry_set_mtime(entry.get(), mtime, 0);
  if (archive_write_header(tar, entry.get()) != ARCHIVE_OK) return archive_error(tar, name);
  auto in = CAIRN_TRY(open_file(file, O_RDONLY));
  std::vector<char> buffer(kChunk);
  for (;;) {
    ssize_t n = ::read(in.get(), buffer.data(), buffer.size());
    if (n < 0) return fail_errno("reading " + file.string(), errno);
    if (n == 0) break;
    if (archive_write_data(tar, buffer.data(), static_cast<std::size_t>(n)) != n) {
      return archive_error(tar, name);
    }
  }
  return {};
}

}  // namespace

Expected<BundleResult> write_bundle(const BundleRequest& request, Signer& signer,
                                    Progress& progress) {
  progress.stage_started(kStage);
  auto started = std::chrono::steady_clock::now();
  auto build_text = CAIRN_TRY(read_file(request.build_dir / "build.json"));
  auto build = nlohmann::json::parse(build_text, nullptr, false);
  if (build.is_discarded() || !build.is_object() || !build.contains("recipe") ||
      !build.contains("version") || !build.contains("root_hash")) {
    return fail(Errc::invalid_input,
                (request.build_dir / "build.json").string() + " is not a cairn-build result");
  }
  BundleManifest manifest{.name = build.value("recipe", ""),
                          .version = build.value("version", ""),
                          .security_version = build.value("security_version", std::uint64_t{1}),
                          .machine_class = build.value("machine_class", ""),
                          .created = rfc3339(build.value("source_date_epoch", std::int64_t{0})),
                          .root_hash = build.value("root_hash", "")};
  // Checked before it names a file: the version becomes part of paths below.
  CAIRN_CHECK(
      with_context(check_version(manifest.version), (request.build_dir / "build.json").string()));
  std::int64_t mtime = build.value("source_date_epoch", std::int64_t{0});
  fs::path erofs = request.build_dir / "root.erofs";
  fs::path verity = request.build_dir / "root.verity";
  fs::path uki = request.build_dir / (manifest.name + "_" + manifest.version + ".efi");
  fs::path output = request.output.empty()
                        ? request.build_dir / (manifest.name + "_" + manifest.version + ".cairnb")
                        : request.output;
  auto work = CAIRN_TRY(TempDir::create(output.parent_path(), ".bundle-"));

  progress.stage_detail(kStage, "compressing the slot image (zstd)");
  fs::path compressed = work.path() / "root.erofs.zst";
  auto root_digest = CAIRN_TRY(hash_and_compress(erofs, compressed, request.zstd_level, progress));
  manifest.payloads.push_back({"root.erofs.zst", PayloadTarget::root,
                               CAIRN_TRY(cairn::file_size(erofs)), root_digest,
                               PayloadCompression::zstd});
  manifest.payloads.push_back({"root.verity", PayloadTarget::verity,
                               CAIRN_TRY(cairn::file_size(verity)),
                               to_hex(CAIRN_TRY(sha256_file(verity))), PayloadCompression::none});
  manifest.payloads.push_back({"uki.efi", PayloadTarget::uki, CAIRN_TRY(cairn::file_size(uki)),
                               to_hex(CAIRN_TRY(sha256_file(uki))), PayloadCompression::none});
  // The manifest must parse back: what the host will refuse, the builder refuses first.
  std::string manifest_json = to_json(manifest);
  CAIRN_TRY(with_context(parse_manifest(manifest_json), "checking the bundle manifest"));
  std::string signature =
      CAIRN_TRY(with_context(signer.sign(manifest_json), "signing the manifest"));

  progress.stage_detail(kStage, "writing the archive");
  fs::path partial = work.path() / "bundle.partial";
  ArchiveWritePtr tar(archive_write_new());
  archive_write_set_format_pax_restricted(tar.get());
  if (archive_write_open_filename(tar.get(), partial.c_str()) != ARCHIVE_OK) {
    return archive_error(tar.get(), partial.string());
  }
  CAIRN_CHECK(add_member(tar.get(), "manifest.json", manifest_json, mtime));
  CAIRN_CHECK(add_member(tar.get(), "manifest.sig", signature, mtime));
  CAIRN_CHECK(add_file_member(tar.get(), "root.erofs.zst", compressed, mtime));
  CAIRN_CHECK(add_file_member(tar.get(), "root.verity", verity, mtime));
  CAIRN_CHECK(add_file_member(tar.get(), "uki.efi", uki, mtime));
  if (archive_write_close(tar.get()) != ARCHIVE_OK) return archive_error(tar.get(), "closing");
  tar.reset();
  {
    auto fd = CAIRN_TRY(open_file(partial, O_RDONLY));
    if (::fsync(fd.get()) != 0) return fail_errno("fsync " + partial.string(), errno);
  }
  std::error_code ec;
  fs::rename(partial, output, ec);
  if (ec)
    return fail(Errc::io, "renaming the bundle into " + output.string() + ": " + ec.message());
  CAIRN_CHECK(fsync_directory(output.parent_path()));
  BundleResult result{
      .path = output, .manifest = std::move(manifest), .size = CAIRN_TRY(cairn::file_size(output))};
  progress.stage_finished(kStage, std::chrono::steady_clock::now() - started);
  return result;
}

}  // namespace cairn::builder
