// Fetching a channel's small documents (the index and its signature) over http(s): conditional
// GETs (If-None-Match), so a poll that finds nothing new costs one request answered 304 Not
// Modified; redirects only within the URL's scheme; a size cap, since an index is a few KiB and
// nothing read here is trusted before its signature is checked.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/error.hpp"

namespace cairn::updater {

struct FetchedDocument {
  bool not_modified = false;  // 304: the copy with `etag` is still current
  std::string body;
  std::string etag;  // the server's ETag, "" when it sends none
};

class DocumentFetcher {
 public:
  virtual ~DocumentFetcher() = default;
  // GET `url`; with a non-empty `etag`, conditionally. Errc::unavailable when the server cannot
  // be reached, Errc::not_found for an HTTP error status, Errc::invalid_input past `max_bytes`
  // or for a redirect to another scheme.
  virtual Expected<FetchedDocument> get(const std::string& url, const std::string& etag,
                                        std::uint64_t max_bytes) = 0;
  // Requests sent so far (bench/poll counts them).
  virtual unsigned requests_sent() const = 0;
};

struct FetchOptions {
  std::filesystem::path ca_file;  // extra CA for https
  std::chrono::seconds timeout{60};
};

std::unique_ptr<DocumentFetcher> http_document_fetcher(FetchOptions options = {});

}  // namespace cairn::updater
