// TPM structures a host sends the verifier: TPMS_ATTEST, TPM2B_PUBLIC, TPMT_SIGNATURE.
//   selector 0: the rest is a TPMS_ATTEST (parse_quote);
//   selector 1: a TPM2B_PUBLIC, read as any key, as an AK and as an EK, and an EK that parses is
//               used for MakeCredential;
//   selector 2: u16 n | TPM2B_PUBLIC (n bytes, the AK) | u16 m | TPMS_ATTEST (m bytes) |
//               TPMT_SIGNATURE (the rest): the AK checks the signature over the quote, as
//               verify_quote does.
#include <array>
#include <cstdint>

#include "attest/tpm/structures.hpp"
#include "fuzz_input.hpp"

namespace tpm = cairn::attest::tpm;

namespace {

// Splits off a big-endian u16 length and that many bytes; false when the input is too short.
bool take_sized(std::span<const std::uint8_t>& rest, std::span<const std::uint8_t>& part) {
  if (rest.size() < 2) return false;
  std::size_t n = std::size_t{rest[0]} << 8 | rest[1];
  if (rest.size() - 2 < n) return false;
  part = rest.subspan(2, n);
  rest = rest.subspan(2 + n);
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn::fuzz::Input input{{data, size}};
  switch (input.take_selector() % 3) {
    case 0:
      tpm::parse_quote(input.bytes);
      break;
    case 1: {
      tpm::parse_public(input.bytes);
      tpm::parse_attestation_key(input.bytes);
      if (auto ek = tpm::parse_endorsement_key(input.bytes)) {
        std::array<std::uint8_t, 32> secret{1, 2, 3};
        std::array<std::uint8_t, 34> name{0x00, 0x0b};
        tpm::make_credential(*ek, secret, name);
      }
      break;
    }
    case 2: {
      std::span<const std::uint8_t> rest = input.bytes, public_area, attest;
      if (!take_sized(rest, public_area) || !take_sized(rest, attest)) break;
      auto ak = tpm::parse_attestation_key(public_area);
      tpm::parse_quote(attest);
      if (ak) tpm::verify_signature(*ak, attest, rest);
      break;
    }
  }
  return 0;
}
