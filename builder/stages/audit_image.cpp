#include "builder/stages/audit_image.hpp"

#include "builder/audit/audit.hpp"
#include "common/fs.hpp"

namespace cairn::builder {

Expected<audit::ComplianceReport> audit_image_tree(const ImageAuditInput& input) {
  std::string cmdline;
  for (const auto& param : input.profile.cmdline()) cmdline += param + " ";
  for (const auto& param : input.recipe.kernel_cmdline) cmdline += param + " ";
  audit::AuditTarget target{.kind = "image",
                            .description = input.recipe.name + " " + input.recipe.version,
                            .root = input.tree,
                            .cmdline = cmdline};
  auto report = audit::run_audit(input.profile, input.catalogue, target, input.vars);
  if (report.passed()) return report;
  std::string failures;
  for (const auto& check : report.checks) {
    if (check.status != audit::CheckStatus::fail || !check.tags.required) continue;
    failures += "; " + check.id + ": " + check.evidence;
  }
  std::string controls;
  for (const auto& id : report.failed_controls()) controls += (controls.empty() ? "" : ", ") + id;
  return fail(Errc::integrity, "the image fails its hardening profile '" + input.profile.name +
                                   "' (failed controls " + controls + ")" + failures);
}

Status write_compliance(const audit::ComplianceReport& report, const Recipe& recipe, Signer& signer,
                        const std::filesystem::path& dir) {
  auto json = report.to_json();
  json["target"]["recipe"] = recipe.name;
  json["target"]["version"] = recipe.version;
  std::string text = json.dump(2) + "\n";
  CAIRN_CHECK(write_file_atomic(dir / "compliance.json", text));
  auto signature = CAIRN_TRY(signer.sign(text));
  return write_file_atomic(dir / "compliance.json.sig", signature);
}

}  // namespace cairn::builder
