// An update bundle as cairn-update reads it from a file, stdin or a download: tar stream,
// manifest, its CMS signature, then every payload (zstd or stored) and the archive's end.
// The first byte chooses:
//   bits 0-1: 3 checks the signature for real (CmsVerifier, anchor tests/fuzz/keys/ca.crt, the
//             seeds' signer); otherwise any signature is taken, so the fuzzer reaches the
//             manifest and the payloads;
//   bit 2:    the bundle comes through a pipe (read as a stream) instead of a memfd (a file).
#include "common/bundle_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>

#include "common/cms.hpp"
#include "fuzz_input.hpp"

namespace {

class AnySignature final : public cairn::SignatureVerifier {
 public:
  cairn::Expected<cairn::SignerIdentity> verify(std::string_view, std::string_view) override {
    return cairn::SignerIdentity{.subject = "CN=fuzz", .issuer = "CN=fuzz"};
  }
};

cairn::CmsVerifier& cms_verifier() {
  static cairn::CmsVerifier verifier = [] {
    auto loaded = cairn::CmsVerifier::load(CAIRN_FUZZ_KEYS_DIR "/ca.crt");
    if (!loaded) __builtin_trap();
    // Within the fuzz certificates' validity, whatever the clock says.
    loaded->set_time(std::chrono::system_clock::time_point{std::chrono::seconds{1800000000}});
    return std::move(*loaded);
  }();
  return verifier;
}

// Payload bytes past this are refused by the sink: a zstd frame of a few bytes can claim
// gigabytes, and the manifest's size bounds nothing the fuzzer writes.
constexpr std::size_t kSinkLimit = std::size_t{4} << 20;

void read_bundle(int fd, cairn::SignatureVerifier& verifier) {
  auto reader = cairn::BundleReader::open_fd(fd, "fuzz bundle");
  if (!reader) return;
  auto manifest = reader->read_manifest(verifier);
  if (!manifest) return;
  std::size_t delivered = 0;
  auto sink = [&](std::span<const std::uint8_t> bytes) -> cairn::Status {
    delivered += bytes.size();
    if (delivered > kSinkLimit) return cairn::fail(cairn::Errc::invalid_input, "sink full");
    return {};
  };
  for (std::size_t i = 0; i < manifest->payloads.size(); ++i) {
    if (!reader->read_next_payload(sink)) return;
  }
  reader->finish();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static cairn::fuzz::MemFile file;
  static AnySignature any_signature;
  cairn::fuzz::Input input{{data, size}};
  std::uint8_t selector = input.take_selector();
  cairn::SignatureVerifier& verifier =
      (selector & 3) == 3 ? static_cast<cairn::SignatureVerifier&>(cms_verifier()) : any_signature;
  int pipe_fds[2];
  std::string_view text = input.text();
  // Through a pipe only what fits its buffer (64 KiB), so that no writer thread is needed.
  if ((selector & 4) && text.size() <= 65536 && ::pipe2(pipe_fds, O_CLOEXEC) == 0) {
    bool written =
        ::write(pipe_fds[1], text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(pipe_fds[1]);
    if (written) read_bundle(pipe_fds[0], verifier);
    ::close(pipe_fds[0]);
    return 0;
  }
  file.assign(text);
  read_bundle(file.fd(), verifier);
  return 0;
}
