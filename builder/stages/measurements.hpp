// Stage 7 (measure): the golden measurements of the finished image, measurements.json, predicted
// from the signed boot chain the disk carries (systemd-boot and the UKI, never a booted machine)
// and signed like compliance.json (detached CMS), so a verifier can approve this image version.
#pragma once

#include <filesystem>
#include <string>

#include "common/golden_measurements.hpp"
#include "common/signer.hpp"

namespace cairn::builder {

struct MeasurementsInput {
  std::string name, version;             // the recipe's image name and version
  std::filesystem::path systemd_boot;    // the signed EFI/BOOT/BOOTX64.EFI of the ESP
  std::filesystem::path uki;             // the signed UKI
  std::filesystem::path secure_boot_db;  // PEM certificate of the db key that signed both
};

// Authenticode digests (PCR 4), PCR 11 per boot phase and PCR 12 predicted from the UKI, PCR 13
// zero, and the db certificate. Fails naming the file that could not be read or measured.
Expected<GoldenMeasurements> predict_golden_measurements(const MeasurementsInput& input);

// Writes `dir`/measurements.json (canonical JSON) and measurements.json.sig, a detached
// signature by `signer` over exactly those bytes.
Status write_measurements(const GoldenMeasurements& measurements, Signer& signer,
                          const std::filesystem::path& dir);

}  // namespace cairn::builder
