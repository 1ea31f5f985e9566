// What the harnesses share: the input as text or bytes, a selector byte, and the fuzz input as a
// file for parsers that take a path (an in-memory file: nothing touches the disk).
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace cairn::fuzz {

// The input, with a first byte some harnesses use to choose an entry point.
struct Input {
  std::span<const std::uint8_t> bytes;

  std::string_view text() const {
    return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
  }
  // Takes the first byte off (0 for an empty input).
  std::uint8_t take_selector() {
    if (bytes.empty()) return 0;
    std::uint8_t selector = bytes.front();
    bytes = bytes.subspan(1);
    return selector;
  }
};

// Parses `text` with `parse`; what parses must come back unchanged through its canonical form
// (`write`), or the harness crashes.
template <class Parse, class Write>
void check_round_trip(std::string_view text, Parse parse, Write write) {
  auto parsed = parse(text);
  if (!parsed) return;
  std::string canonical = write(*parsed);
  auto again = parse(canonical);
  if (!again || write(*again) != canonical) __builtin_trap();
}

// A memfd holding the input, reachable by path (/proc/self/fd/N) for code that opens files.
class MemFile {
 public:
  MemFile() : fd_(memfd_create("cairn-fuzz", 0)) {
    if (fd_ < 0) std::abort();
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  // Replaces the contents with `data` and rewinds.
  void assign(std::string_view data) {
    if (::ftruncate(fd_, 0) != 0 ||
        ::pwrite(fd_, data.data(), data.size(), 0) != static_cast<ssize_t>(data.size()) ||
        ::lseek(fd_, 0, SEEK_SET) != 0) {
      std::abort();
    }
  }
  int fd() const { return fd_; }
  std::filesystem::path path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

// A directory of its own for readers that look files up by name (hardening profiles, the
// updater's drop-in tree), under /dev/shm when there is one; removed at exit.
std::filesystem::path scratch_dir();

// Replaces `path`'s contents (creating its directories).
void write_file(const std::filesystem::path& path, std::string_view data);

}  // namespace cairn::fuzz
