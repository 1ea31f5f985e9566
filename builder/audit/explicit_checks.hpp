// The profile's [[check]] entries: accounts, host keys, units, packages, lines in files, and the
// live kernel state (IOMMU, Secure Boot, lockdown, nested virtualization) of a running host.
#pragma once

#include "builder/audit/checks.hpp"

namespace cairn::builder::audit {

CheckResult run_explicit_check(const CheckSpec& check, const AuditTarget& target);

}  // namespace cairn::builder::audit
