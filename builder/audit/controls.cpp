#include "builder/audit/controls.hpp"

#include <algorithm>

#include "common/toml_reader.hpp"

namespace cairn::builder::audit {

namespace fs = std::filesystem;

const Control* ControlCatalogue::find(std::string_view id) const {
  auto it = std::find_if(controls.begin(), controls.end(),
                         [&](const Control& control) { return control.id == id; });
  return it == controls.end() ? nullptr : &*it;
}

namespace {

Status load_file(const fs::path& file, ControlCatalogue& catalogue) {
  toml::table root = CAIRN_TRY(parse_toml_file(file));
  TableReader top(root, file, "");
  auto document = CAIRN_TRY(top.string("document"));
  CAIRN_TRY(top.optional_string("title"));
  auto tables = CAIRN_TRY(top.table_array("control"));
  for (std::size_t i = 0; i < tables.size(); ++i) {
    TableReader reader(*tables[i], file, "control[" + std::to_string(i) + "]");
    Control control{.document = document};
    control.id = CAIRN_TRY(reader.string("id"));
    if (!control.id.starts_with(document)) {
      return fail(Errc::invalid_input, reader.where("id") + "control '" + control.id +
                                           "' does not belong to document '" + document + "'");
    }
    if (catalogue.find(control.id)) {
      return fail(Errc::invalid_input,
                  reader.where("id") + "control '" + control.id + "' is listed twice");
    }
    control.title = CAIRN_TRY(reader.string("title"));
    auto kind = CAIRN_TRY(reader.string("kind"));
    if (kind != "technical" && kind != "organisational") {
      return fail(Errc::invalid_input, reader.where("kind") + "'" + reader.qualified("kind") +
                                           "' must be \"technical\" or \"organisational\"");
    }
    control.organisational = kind == "organisational";
    control.offers = CAIRN_TRY(reader.optional_string("offers")).value_or("");
    if (control.organisational && control.offers.empty()) {
      return fail(Errc::invalid_input,
                  reader.where("kind") + "organisational control '" + control.id +
                      "' must say what the image offers towards it ('offers')");
    }
    CAIRN_CHECK(reader.finish());
    catalogue.controls.push_back(std::move(control));
  }
  return top.finish();
}

}  // namespace

Expected<ControlCatalogue> load_control_catalogue(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".toml") files.push_back(entry.path());
  }
  if (ec) return fail(Errc::not_found, "control catalogue " + dir.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  ControlCatalogue catalogue;
  for (const auto& file : files) CAIRN_CHECK(load_file(file, catalogue));
  if (catalogue.controls.empty()) {
    return fail(Errc::not_found, "no control catalogue in " + dir.string());
  }
  return catalogue;
}

Status check_profile_controls(const HardeningProfile& profile, const ControlCatalogue& catalogue) {
  for (const auto& id : profile.control_ids()) {
    if (!catalogue.find(id)) {
      return fail(Errc::invalid_input, "hardening profile '" + profile.name + "' names control '" +
                                           id +
                                           "', which no catalogue in hardening/controls lists");
    }
  }
  return {};
}

}  // namespace cairn::builder::audit
