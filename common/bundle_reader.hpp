// Reading an update bundle as a stream (a file, stdin, later a download): manifest.json and
// manifest.sig come first and are verified before a single payload byte is read; then each
// payload, in manifest order, is delivered decompressed to a sink while its size and sha256 are
// checked. Anything else in the archive — another order, a duplicate or unknown member, a link,
// a device, a path with '/', data after the archive's end — is refused.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "common/manifest.hpp"
#include "common/signer.hpp"

struct archive;

namespace cairn {

class BundleReader {
 public:
  // Asked once the archive has ended at byte `end` (zero padding may follow up to `padded_end`),
  // before a byte after the end is read: a source that declared its length (an http server's
  // Content-Length) refuses a longer one here, so that no one waits for bytes that are not part
  // of the bundle.
  using EndCheck = std::function<Status(std::uint64_t end, std::uint64_t padded_end)>;

  // Reads from `fd` (not closed; the caller owns it).
  static Expected<BundleReader> open_fd(int fd, std::string source_name, EndCheck end_check = {});
  BundleReader(BundleReader&&) noexcept;
  BundleReader& operator=(BundleReader&&) noexcept;
  ~BundleReader();

  // The first two members, checked with `verifier`. Errc::crypto when the signature does not
  // hold or its signer is not trusted, Errc::invalid_input for a malformed bundle.
  Expected<BundleManifest> read_manifest(SignatureVerifier& verifier);
  const SignerIdentity& signer() const { return signer_; }
  // The verified manifest's version, "" until read_manifest succeeded (for a refusal's record).
  std::string manifest_version() const { return manifest_read_ ? manifest_.version : ""; }

  using Sink = std::function<Status(std::span<const std::uint8_t>)>;
  // The next payload (manifest order): its bytes, decompressed, go to `sink`; fails with
  // Errc::integrity if they are more than the manifest's size, fewer, or hash differently.
  Expected<const ManifestPayload*> read_next_payload(const Sink& sink);
  // After the last payload: the archive must end here, and the stream with it — after the
  // end-of-archive blocks only zero padding up to the tar record's end (10240 bytes) may follow.
  // `end_check` runs first; then the stream is read to its end, but never more than one byte
  // past the padding. Errc::invalid_input names the bytes found after the end.
  Status finish();

 private:
  struct Archive;
  BundleReader(std::unique_ptr<Archive> archive, std::string source_name, EndCheck end_check);
  Expected<bool> next_member(const std::string& expected_name);
  Expected<std::string> read_small_member(std::size_t limit);
  Status check_stream_end();

  std::unique_ptr<Archive> archive_;
  std::string source_name_;
  EndCheck end_check_;
  BundleManifest manifest_;
  SignerIdentity signer_;
  bool manifest_read_ = false;
  std::size_t next_payload_ = 0;
};

}  // namespace cairn
