#include "common/bundle_writer.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>
#include <zstd.h>

#include <memory>

#include "common/fs.hpp"
#include "common/hash.hpp"

namespace cairn {

namespace fs = std::filesystem;

namespace {

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

// Reads `input` once: sha256 of its bytes, and (for zstd) the compressed copy at `output`.
// Returns the digest; multi-threaded zstd with a content checksum.
Expected<std::string> hash_and_compress(const fs::path& input, const fs::path& output, int level,
                                        Progress& progress, std::string_view stage) {
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
      progress.stage_fraction(stage, static_cast<double>(done) / static_cast<double>(total));
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

Expected<BundleManifest> write_bundle_file(const BundleContents& contents, Signer& signer,
                                           const fs::path& output, Progress& progress,
                                           std::string_view stage) {
  fs::path dir = output.has_parent_path() ? output.parent_path() : fs::path(".");
  auto work = CAIRN_TRY(TempDir::create(dir, ".bundle-"));
  BundleManifest manifest = contents.manifest;
  manifest.payloads.clear();
  std::vector<fs::path> members;  // what goes into the archive, payload by payload
  for (const auto& payload : contents.payloads) {
    std::string digest;
    fs::path member = payload.file;
    if (payload.compression == PayloadCompression::zstd) {
      progress.stage_detail(stage, "compressing " + payload.name + " (zstd)");
      member = work.path() / payload.name;
      digest =
          CAIRN_TRY(hash_and_compress(payload.file, member, contents.zstd_level, progress, stage));
    } else {
      digest = to_hex(CAIRN_TRY(sha256_file(payload.file)));
    }
    manifest.payloads.push_back({payload.name, payload.target,
                                 CAIRN_TRY(cairn::file_size(payload.file)), std::move(digest),
                                 payload.compression});
    members.push_back(std::move(member));
  }
  // The manifest must parse back: what the host will refuse, the writer refuses first.
  std::string manifest_json = to_json(manifest);
  CAIRN_TRY(with_context(parse_manifest(manifest_json), "checking the bundle manifest"));
  std::string signature =
      CAIRN_TRY(with_context(signer.sign(manifest_json), "signing the manifest"));

  progress.stage_detail(stage, "writing the archive");
  fs::path partial = work.path() / "bundle.partial";
  ArchiveWritePtr tar(archive_write_new());
  archive_write_set_format_pax_restricted(tar.get());
  if (archive_write_open_filename(tar.get(), partial.c_str()) != ARCHIVE_OK) {
    return archive_error(tar.get(), partial.string());
  }
  CAIRN_CHECK(add_member(tar.get(), "manifest.json", manifest_json, contents.mtime));
  CAIRN_CHECK(add_member(tar.get(), "manifest.sig", signature, contents.mtime));
  for (std::size_t i = 0; i < members.size(); ++i) {
    CAIRN_CHECK(add_file_member(tar.get(), manifest.payloads[i].name, members[i], contents.mtime));
  }
  if (archive_write_close(tar.get()) != ARCHIVE_OK) return archive_error(tar.get(), "closing");
  tar.reset();
  {
    auto fd = CAIRN_TRY(open_file(partial, O_RDONLY));
    if (::fsync(fd.get()) != 0) return fail_errno("fsync " + partial.string(), errno);
  }
  std::error_code ec;
  fs::rename(partial, output, ec);
  if (ec) {
    return fail(Errc::io, "renaming the bundle into " + output.string() + ": " + ec.message());
  }
  CAIRN_CHECK(fsync_directory(dir));
  return manifest;
}

}  // namespace cairn
