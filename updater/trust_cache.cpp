#include "updater/trust_cache.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <vector>

namespace cairn::updater {

namespace {

// What identifies a file's contents without reading it: a replacement changes the inode, a
// rewrite in place the size or the modification time (nanoseconds).
std::string file_identity(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path.string() + " -\n";
  return path.string() + " " + std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + " " +
         std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec) + "\n";
}

// Every entry of the store (not only the *.crt and *.pem CmsVerifier reads: any change reloads).
std::string fingerprint(const std::filesystem::path& anchors) {
  std::string print = file_identity(anchors);
  std::error_code ec;
  if (!std::filesystem::is_directory(anchors, ec)) return print;
  std::vector<std::filesystem::path> entries;
  for (const auto& entry : std::filesystem::directory_iterator(anchors, ec)) {
    entries.push_back(entry.path());
  }
  std::ranges::sort(entries);
  for (const auto& entry : entries) print += file_identity(entry);
  return print;
}

}  // namespace

Expected<CmsVerifier*> TrustCache::get(const std::filesystem::path& anchors) {
  std::string now = fingerprint(anchors);
  if (!verifier_ || now != fingerprint_) {
    verifier_.reset();
    verifier_ = CAIRN_TRY(CmsVerifier::load(anchors));
    fingerprint_ = std::move(now);
  }
  return &*verifier_;
}

}  // namespace cairn::updater
