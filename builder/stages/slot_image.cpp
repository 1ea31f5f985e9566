#include "builder/stages/slot_image.hpp"

#include "common/fs.hpp"
#include "common/gpt.hpp"
#include "common/verity.hpp"

namespace cairn::builder {

Expected<SlotImageOutput> build_slot_image(const SlotImageInput& input, ProcessRunner& runner,
                                           Progress& progress) {
  SlotImageOutput output;
  output.erofs = input.output_dir / "root.erofs";
  output.verity = input.output_dir / "root.verity";
  // Everything that would otherwise be random is derived from the tree: same tree, same
  // bytes, and different trees never share a salt or UUID.
  progress.stage_detail("slot", "mkfs.erofs");
  CAIRN_CHECK(run_step(
      runner,
      {.argv = {"mkfs.erofs", "--quiet", "-zlz4", "-T", std::to_string(input.source_date_epoch),
                "-U", stable_uuid("cairn erofs " + input.tree_checksum), output.erofs.string(),
                input.tree.string()}},
      "making the erofs slot image"));
  progress.stage_detail("slot", "dm-verity hash tree");
  VerityParams params;
  auto salt = sha256("cairn verity salt " + input.tree_checksum);
  params.salt.assign(salt.begin(), salt.end());
  params.uuid = CAIRN_TRY(parse_uuid(stable_uuid("cairn verity " + input.tree_checksum)));
  auto tree = CAIRN_TRY(build_verity_tree(output.erofs, output.verity, params));
  output.root_hash = tree.root_hash;
  output.salt = to_hex(params.salt);
  output.erofs_size = CAIRN_TRY(cairn::file_size(output.erofs));
  output.verity_size = tree.hash_area.size();
  return output;
}

}  // namespace cairn::builder
