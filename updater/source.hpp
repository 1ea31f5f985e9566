// Where a bundle comes from: a file, standard input ("-"), or an http(s) URL. Every kind ends as
// a readable file descriptor the bundle reader streams from; a URL is downloaded by libcurl on a
// thread writing into a socket pair, so the bundle is never staged on disk and the reader's
// back-pressure paces the download.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "common/fs.hpp"

namespace cairn::updater {

struct SourceOptions {
  // Extra trusted CA for https (a private update server); the system's CAs otherwise.
  std::filesystem::path ca_file;
  long connect_timeout_seconds = 30;
  // A transfer slower than 1 KiB/s for this long is abandoned.
  long stall_timeout_seconds = 60;
  // What a channel index says of the bundle (fleet/channel_index.hpp): a URL's download is cut
  // off at once past `expected_size` bytes, and finish() refuses any other size or digest.
  std::optional<std::uint64_t> expected_size;
  std::string expected_sha256;  // lower-case hex; empty: not checked
  // Follow redirects only to the URL's own scheme (a channel's bundles: an https channel is
  // never served over http, and an http one never switches to what its trust did not plan for).
  bool same_scheme_redirects = false;
};

bool is_url(std::string_view source);

class BundleSource {
 public:
  static Expected<BundleSource> open(const std::string& source, const SourceOptions& options = {});
  BundleSource(BundleSource&&) noexcept;
  BundleSource& operator=(BundleSource&&) noexcept;
  ~BundleSource();

  int fd() const;
  // "stdin", the file's path, or the URL.
  const std::string& name() const { return name_; }

  // When reading failed: a download error explains it better than "truncated" (an HTTP 404
  // reads as an empty stream). Returns the download's error if there was one, else `error`.
  Error explain(Error error);
  // After a successful read (the reader saw the stream's end): ends the transfer, and checks the
  // expected size and digest (Errc::integrity when they differ).
  Status finish();
  // A BundleReader::EndCheck: refuses, without waiting for them, the bytes an http server
  // declared (Content-Length) beyond the bundle's end and its zero padding.
  Status check_end(std::uint64_t end, std::uint64_t padded_end) const;

 private:
  class Download;
  BundleSource() = default;
  std::string name_;
  SourceOptions options_;
  UniqueFd file_;
  std::unique_ptr<Download> download_;
};

}  // namespace cairn::updater
