// attest_make_credential EK_PUB AK_NAME SECRET OUT: cairn's software TPM2_MakeCredential, written
// in tpm2-tools' credential file format (0xBADCC0DE, version 1, TPM2B_ID_OBJECT,
// TPM2B_ENCRYPTED_SECRET) so that tpm2_activatecredential on a real TPM can open it.
#include <fstream>
#include <iostream>
#include <iterator>

#include "attest/tpm/structures.hpp"

using cairn::attest::tpm::Bytes;

namespace {

Bytes read(const char* path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::cerr << "usage: attest_make_credential EK_PUB AK_NAME SECRET OUT\n";
    return 2;
  }
  auto ek = cairn::attest::tpm::parse_endorsement_key(read(argv[1]));
  if (!ek) {
    std::cerr << ek.error().describe() << "\n";
    return 1;
  }
  auto credential = cairn::attest::tpm::make_credential(*ek, read(argv[3]), read(argv[2]));
  if (!credential) {
    std::cerr << credential.error().describe() << "\n";
    return 1;
  }
  std::ofstream out(argv[4], std::ios::binary);
  const char header[] = {'\xba', '\xdc', '\xc0', '\xde', 0, 0, 0, 1};
  out.write(header, sizeof header);
  for (const Bytes* part : {&credential->credential_blob, &credential->encrypted_secret}) {
    out.write(reinterpret_cast<const char*>(part->data()), static_cast<long>(part->size()));
  }
  return out.good() ? 0 : 1;
}
