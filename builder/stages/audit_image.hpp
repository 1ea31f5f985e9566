// Stage 3 (audit): the customized tree is checked against its hardening profile before it is
// committed, and the report ships beside the image, signed, as compliance.json.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "builder/audit/report.hpp"
#include "builder/recipe.hpp"
#include "common/signer.hpp"

namespace cairn::builder {

struct ImageAuditInput {
  const HardeningProfile& profile;
  const audit::ControlCatalogue& catalogue;
  const Recipe& recipe;
  std::filesystem::path tree;
  std::map<std::string, std::string> vars;  // the template variables the tree was built with
};

// Audits the tree with the command line its UKI will carry (the profile's parameters, then the
// recipe's). A failed required check is an Errc::integrity error naming every failed check.
Expected<audit::ComplianceReport> audit_image_tree(const ImageAuditInput& input);

// Writes `dir`/compliance.json (naming the recipe and version) and compliance.json.sig, a
// detached signature by `signer`.
Status write_compliance(const audit::ComplianceReport& report, const Recipe& recipe, Signer& signer,
                        const std::filesystem::path& dir);

}  // namespace cairn::builder
