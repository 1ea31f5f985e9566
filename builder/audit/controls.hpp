// The control catalogue (hardening/controls/*.toml): every control point a compliance report
// lists, with its title, whether a machine can check it at all ("technical") or it is a matter of
// organisation ("organisational"), and what the image offers towards it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "builder/hardening_profile.hpp"
#include "common/error.hpp"

namespace cairn::builder::audit {

struct Control {
  std::string id;        // "DAT-NT-011:R3"
  std::string document;  // "DAT-NT-011"
  std::string title;
  bool organisational = false;
  std::string offers;  // what the image provides in support (always set for organisational)
};

struct ControlCatalogue {
  std::vector<Control> controls;  // in file order, files sorted by name

  const Control* find(std::string_view id) const;
};

// Loads every *.toml in `dir`. Duplicate ids and organisational controls without `offers` are
// errors.
Expected<ControlCatalogue> load_control_catalogue(const std::filesystem::path& dir);

// Fails naming the first control id the profile uses that the catalogue does not know.
Status check_profile_controls(const HardeningProfile& profile, const ControlCatalogue& catalogue);

}  // namespace cairn::builder::audit
