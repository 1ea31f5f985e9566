// The TCG crypto-agile event log as the verifier receives it from a host it does not trust:
// parse, replay every bank the header declares, then read the firmware evidence (PCR 4
// applications, PCR 7 UEFI variables) the verifier's checks use.
#include "common/eventlog.hpp"

#include <cstdint>

#include "attest/protocol.hpp"
#include "attest/verifier/firmware_evidence.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto log = cairn::tpm::parse_event_log({data, size});
  if (!log) return 0;
  for (const auto& [algorithm, digest_size] : log->algorithms) {
    for (const auto& [pcr, value] : cairn::tpm::replay(*log, algorithm)) {
      if (value.size() != cairn::tpm::digest_size(algorithm)) __builtin_trap();
    }
  }
  cairn::attest::verifier::read_firmware_evidence(*log, cairn::attest::kQuotedPcrs);
  return 0;
}
