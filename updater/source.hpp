// Where a bundle comes from: a file, standard input ("-"), or an http(s) URL. Every kind ends as
// a readable file descriptor the bundle reader streams from; a URL is downloaded by libcurl on a
// thread writing into a socket pair, so the bundle is never staged on disk and the reader's
// back-pressure paces the download.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
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
  // After a successful read (the reader saw the stream's end): ends the transfer.
  Status finish();
  // A BundleReader::EndCheck: refuses, without waiting for them, the bytes an http server
  // declared (Content-Length) beyond the bundle's end and its zero padding.
  Status check_end(std::uint64_t end, std::uint64_t padded_end) const;

 private:
  class Download;
  BundleSource() = default;
  std::string name_;
  UniqueFd file_;
  std::unique_ptr<Download> download_;
};

}  // namespace cairn::updater
