// The operator's side of cairn-verifier (its CLI subcommands), as library calls: approving a
// signed measurements.json, checking a submission offline, and the listings as JSON.
#pragma once

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "attest/protocol.hpp"
#include "attest/verifier/store.hpp"

namespace cairn::attest::verifier {

// Verifies `signature` (detached CMS, DER) over the file with the trust anchors, parses it and
// loads the version as approved. Errc::integrity/crypto for a bad or untrusted signature,
// Errc::invalid_input for malformed measurements or a version already loaded differently.
Expected<ImageVersion> approve_measurements(Store& store, const std::filesystem::path& file,
                                            const std::filesystem::path& signature,
                                            const std::filesystem::path& trust,
                                            std::chrono::system_clock::time_point now);

// The same policy as POST /v1/attest with the nonce an operator gives (base64) instead of one
// from the store; nothing is written (no nonce spent, no clock recorded) and no token is made.
Expected<Verdict> check_offline(Store& store, const QuoteSubmission& submission,
                                std::string_view nonce_base64,
                                std::chrono::system_clock::time_point now);

nlohmann::json to_json_value(const HostRecord& host);
nlohmann::json to_json_value(const ImageVersion& image);

}  // namespace cairn::attest::verifier
