#include "common/bundle_reader.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "common/hash.hpp"

namespace cairn {

namespace {

constexpr std::size_t kManifestLimit = 1 << 20;
constexpr std::size_t kSignatureLimit = 256 << 10;
constexpr std::size_t kBlock = 1 << 20;
// tar's record: GNU tar pads an archive with zeros to a multiple of it (Cairn's builder writes no
// padding, libarchive's file writer neither).
constexpr std::size_t kRecord = 10240;

struct ZstdFree {
  void operator()(ZSTD_DCtx* context) const { ZSTD_freeDCtx(context); }
};

}  // namespace

// libarchive reads the stream through `read`, which counts the bytes it hands over and keeps the
// last record's worth: libarchive reads ahead, so when the archive ends, what followed it may
// already sit in its buffers, out of reach of its API.
struct BundleReader::Archive {
  archive* handle = archive_read_new();
  archive_entry* entry = nullptr;
  int fd = -1;
  std::vector<std::uint8_t> buffer = std::vector<std::uint8_t>(kBlock);
  std::uint64_t handed = 0;
  std::vector<std::uint8_t> tail;  // the last (up to kRecord) bytes handed
  ~Archive() { archive_read_free(handle); }

  std::string error() const {
    const char* message = archive_error_string(handle);
    return message ? message : "unreadable archive";
  }

  static la_ssize_t read(archive* handle, void* self_ptr, const void** out) {
    auto* self = static_cast<Archive*>(self_ptr);
    ssize_t n;
    do n = ::read(self->fd, self->buffer.data(), self->buffer.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      archive_set_error(handle, errno, "%s", std::strerror(errno));
      return -1;
    }
    *out = self->buffer.data();
    self->keep(std::span(self->buffer).first(static_cast<std::size_t>(n)));
    return n;
  }

  void keep(std::span<const std::uint8_t> bytes) {
    handed += bytes.size();
    if (bytes.size() >= kRecord) bytes = bytes.last(kRecord);
    std::size_t total = tail.size() + bytes.size();
    if (total > kRecord) tail.erase(tail.begin(), tail.begin() + (total - kRecord));
    tail.insert(tail.end(), bytes.begin(), bytes.end());
  }
};

BundleReader::BundleReader(std::unique_ptr<Archive> archive, std::string source_name,
                           EndCheck end_check)
    : archive_(std::move(archive)),
      source_name_(std::move(source_name)),
      end_check_(std::move(end_check)) {}
BundleReader::BundleReader(BundleReader&&) noexcept = default;
BundleReader& BundleReader::operator=(BundleReader&&) noexcept = default;
BundleReader::~BundleReader() = default;

Expected<BundleReader> BundleReader::open_fd(int fd, std::string source_name, EndCheck end_check) {
  auto archive = std::make_unique<Archive>();
  archive->fd = fd;
  // Plain tar only: a bundle is never compressed as a whole (its payloads are).
  archive_read_support_format_tar(archive->handle);
  if (archive_read_open(archive->handle, archive.get(), nullptr, &Archive::read, nullptr) !=
      ARCHIVE_OK) {
    return fail(Errc::invalid_input, source_name + ": " + archive->error());
  }
  return BundleReader(std::move(archive), std::move(source_name), std::move(end_check));
}

// Moves to the next member and checks it is the regular file `expected_name`. Returns false at
// the end of the archive.
Expected<bool> BundleReader::next_member(const std::string& expected_name) {
  int status = archive_read_next_header(archive_->handle, &archive_->entry);
  if (status == ARCHIVE_EOF) return false;
  if (status != ARCHIVE_OK) {
    return fail(Errc::invalid_input,
                source_name_ + ": " + archive_->error() +
                    (expected_name.empty() ? "" : " (expected " + expected_name + ")"));
  }
  const char* raw_name = archive_entry_pathname(archive_->entry);
  std::string name = raw_name ? raw_name : "";
  if (!is_safe_member_name(name)) {
    return fail(Errc::invalid_input,
                source_name_ + ": member '" + name + "' is not a plain file name");
  }
  if (archive_entry_filetype(archive_->entry) != AE_IFREG) {
    return fail(Errc::invalid_input,
                source_name_ + ": member '" + name + "' is not a regular file");
  }
  if (name != expected_name) {
    return fail(Errc::invalid_input,
                source_name_ + ": member '" + name + "' where " +
                    (expected_name.empty() ? std::string("the archive should end")
                                           : "'" + expected_name + "' belongs"));
  }
  return true;
}

Expected<std::string> BundleReader::read_small_member(std::size_t limit) {
  la_int64_t size = archive_entry_size(archive_->entry);
  if (size < 0 || static_cast<std::uint64_t>(size) > limit) {
    return fail(Errc::invalid_input, source_name_ + ": " + archive_entry_pathname(archive_->entry) +
                                         " is larger than " + std::to_string(limit) + " bytes");
  }
  std::string data(static_cast<std::size_t>(size), '\0');
  la_ssize_t n = archive_read_data(archive_->handle, data.data(), data.size());
  if (n != static_cast<la_ssize_t>(data.size())) {
    return fail(Errc::invalid_input,
                source_name_ + ": truncated " + archive_entry_pathname(archive_->entry));
  }
  return data;
}

Expected<BundleManifest> BundleReader::read_manifest(SignatureVerifier& verifier) {
  if (!CAIRN_TRY(next_member("manifest.json"))) {
    return fail(Errc::invalid_input, source_name_ + ": empty archive");
  }
  std::string manifest_json = CAIRN_TRY(read_small_member(kManifestLimit));
  if (!CAIRN_TRY(next_member("manifest.sig"))) {
    return fail(Errc::crypto, source_name_ + ": unsigned bundle (no manifest.sig)");
  }
  std::string signature = CAIRN_TRY(read_small_member(kSignatureLimit));
  // The signature first: nothing of an unverified manifest is believed, not even its syntax.
  signer_ = CAIRN_TRY(with_context(verifier.verify(manifest_json, signature),
                                   source_name_ + ": manifest signature"));
  manifest_ = CAIRN_TRY(with_context(parse_manifest(manifest_json), source_name_));
  manifest_read_ = true;
  return manifest_;
}

Expected<const ManifestPayload*> BundleReader::read_next_payload(const Sink& sink) {
  if (!manifest_read_) return fail(Errc::internal, "read_manifest must come first");
  if (next_payload_ >= manifest_.payloads.size()) {
    return fail(Errc::internal, "no payload left in " + source_name_);
  }
  const ManifestPayload& payload = manifest_.payloads[next_payload_++];
  if (!CAIRN_TRY(next_member(payload.name))) {
    return fail(Errc::invalid_input,
                source_name_ + ": truncated: payload " + payload.name + " missing");
  }
  std::unique_ptr<ZSTD_DCtx, ZstdFree> zstd;
  if (payload.compression == PayloadCompression::zstd) zstd.reset(ZSTD_createDCtx());
  std::vector<std::uint8_t> input(kBlock), output(ZSTD_DStreamOutSize());
  Sha256 hasher;
  std::uint64_t delivered = 0;
  auto deliver = [&](std::span<const std::uint8_t> bytes) -> Status {
    delivered += bytes.size();
    if (delivered > payload.size) {
      return fail(Errc::integrity, source_name_ + ": " + payload.name + " is larger than the " +
                                       std::to_string(payload.size) + " bytes its manifest says");
    }
    hasher.update(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    return sink(bytes);
  };
  std::size_t frame_left = 1;  // zstd: bytes still expected by the current frame
  for (;;) {
    la_ssize_t n = archive_read_data(archive_->handle, input.data(), input.size());
    if (n < 0) {
      return fail(Errc::invalid_input,
                  source_name_ + ": " + payload.name + ": " + archive_->error());
    }
    if (n == 0) break;
    std::span<const std::uint8_t> chunk(input.data(), static_cast<std::size_t>(n));
    if (!zstd) {
      CAIRN_CHECK(deliver(chunk));
      continue;
    }
    ZSTD_inBuffer source{chunk.data(), chunk.size(), 0};
    while (source.pos < source.size) {
      ZSTD_outBuffer sink_buffer{output.data(), output.size(), 0};
      frame_left = ZSTD_decompressStream(zstd.get(), &sink_buffer, &source);
      if (ZSTD_isError(frame_left)) {
        return fail(Errc::integrity, source_name_ + ": " + payload.name +
                                         ": zstd: " + ZSTD_getErrorName(frame_left));
      }
      CAIRN_CHECK(deliver({output.data(), sink_buffer.pos}));
    }
  }
  if (zstd && frame_left != 0) {
    return fail(Errc::integrity,
                source_name_ + ": " + payload.name + ": compressed data ends early");
  }
  if (delivered != payload.size) {
    return fail(Errc::integrity, source_name_ + ": " + payload.name + " has " +
                                     std::to_string(delivered) + " bytes, its manifest says " +
                                     std::to_string(payload.size));
  }
  if (to_hex(hasher.finish()) != payload.sha256) {
    return fail(Errc::integrity,
                source_name_ + ": " + payload.name + ": sha256 differs from the signed manifest");
  }
  return &payload;
}

Status BundleReader::finish() {
  if (next_payload_ != manifest_.payloads.size()) {
    return fail(Errc::internal, "finish before every payload was read");
  }
  if (CAIRN_TRY(next_member(""))) {
    return fail(Errc::invalid_input, source_name_ + ": unexpected member after the payloads");
  }
  return check_stream_end();
}

// Bytes after the end-of-archive blocks are not covered by the signed manifest: a file with
// something appended, or a server sending more than the bundle, is refused rather than
// ignored. Only zero padding to the end of the tar record is part of a tar archive.
Status BundleReader::check_stream_end() {
  auto end = static_cast<std::uint64_t>(archive_filter_bytes(archive_->handle, 0));
  std::uint64_t padded_end = (end + kRecord - 1) / kRecord * kRecord;
  if (end_check_) CAIRN_CHECK(end_check_(end, padded_end));
  std::uint64_t allowed = padded_end - end;
  std::uint64_t seen = archive_->handed - end;  // read ahead by libarchive already
  bool is_padding = seen <= allowed && std::ranges::all_of(std::span(archive_->tail).last(seen),
                                                           [](std::uint8_t b) { return b == 0; });
  // Read on to the stream's end, but never further than one byte past the padding.
  bool at_end = false;
  std::array<std::uint8_t, kRecord + 1> more;
  while (seen <= allowed) {
    ssize_t n = ::read(archive_->fd, more.data(), allowed + 1 - seen);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(source_name_ + ": reading after the bundle's end", errno);
    if (n == 0) {
      at_end = true;
      break;
    }
    is_padding = is_padding &&
                 std::all_of(more.begin(), more.begin() + n, [](std::uint8_t b) { return b == 0; });
    seen += static_cast<std::uint64_t>(n);
  }
  if (at_end && is_padding) return {};
  // A file's size says how much follows; a pipe or socket was read only this far.
  std::string count = std::to_string(seen) + (at_end ? "" : " or more");
  struct stat st;
  off_t at = ::lseek(archive_->fd, 0, SEEK_CUR);
  if (!at_end && ::fstat(archive_->fd, &st) == 0 && S_ISREG(st.st_mode) && at >= 0 &&
      st.st_size >= at) {
    count = std::to_string(seen + static_cast<std::uint64_t>(st.st_size - at));
  }
  return fail(Errc::invalid_input, source_name_ + ": data after the bundle's end: " + count +
                                       " bytes from byte " + std::to_string(end) + " on");
}

}  // namespace cairn
