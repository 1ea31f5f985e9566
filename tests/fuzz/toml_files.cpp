// Cairn's TOML files, read strictly (common/toml_reader): the first byte chooses
//   0: a recipe (builder/recipe), 1: a hardening profile (builder/hardening_profile; the
//   project's own profiles sit beside it, to extend), 2: a host's update.toml
//   (updater/update_config) and its durations.
// The readers take paths, so the rest of the input is written to a scratch directory in /dev/shm.
#include <cstdint>

#include "builder/hardening_profile.hpp"
#include "builder/recipe.hpp"
#include "fuzz_input.hpp"
#include "updater/update_config.hpp"

namespace fs = std::filesystem;

namespace {

fs::path profiles_dir() {
  static fs::path dir = [] {
    fs::path made = cairn::fuzz::scratch_dir() / "hardening";
    fs::create_directories(made);
    for (const auto& entry : fs::directory_iterator(CAIRN_FUZZ_SOURCE_DIR "/hardening")) {
      if (entry.path().extension() == ".toml") {
        fs::create_symlink(entry.path(), made / entry.path().filename());
      }
    }
    return made;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  cairn::fuzz::Input input{{data, size}};
  std::uint8_t selector = input.take_selector();
  std::string_view text = input.text();
  switch (selector % 3) {
    case 0: {
      fs::path recipe = cairn::fuzz::scratch_dir() / "recipes/fuzz.toml";
      cairn::fuzz::write_file(recipe, text);
      cairn::builder::load_recipe(recipe);
      break;
    }
    case 1:
      cairn::fuzz::write_file(profiles_dir() / "fuzz.toml", text);
      cairn::builder::load_hardening_profile(profiles_dir(), "fuzz");
      break;
    case 2: {
      fs::path root = cairn::fuzz::scratch_dir() / "host";
      cairn::fuzz::write_file(root / "etc/cairn/update.toml", text);
      cairn::updater::load_update_config(root);
      cairn::updater::parse_duration(text);
      break;
    }
  }
  return 0;
}
