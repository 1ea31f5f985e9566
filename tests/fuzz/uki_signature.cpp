// The installer's and cairn-build's check of a UKI's Secure Boot signature: the PE headers, the
// WIN_CERTIFICATE entries, the PKCS#7 and its SpcIndirectDataContent, all from untrusted bytes.
// Checked against the fuzz signing certificate (the seed is signed by its key) and against the
// CA that issued it (a chain of two).
#include "common/uki_signature.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "common/pki.hpp"
#include "fuzz_input.hpp"

namespace {

X509* load(const char* path) {
  auto cert = cairn::read_certificate_pem(path);
  if (!cert) {
    std::fprintf(stderr, "%s\n", cert.error().describe().c_str());
    std::abort();
  }
  return cert->release();  // lives as long as the process
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static X509* signing = load(CAIRN_FUZZ_KEYS_DIR "/signing.crt");
  static X509* ca = load(CAIRN_FUZZ_KEYS_DIR "/ca.crt");
  cairn::check_uki_signature({data, size}, signing, "fuzz input");
  cairn::check_uki_signature({data, size}, ca, "fuzz input");
  return 0;
}
