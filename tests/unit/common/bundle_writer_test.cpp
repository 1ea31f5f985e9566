// The bundle format's round trip: what write_bundle_file writes, BundleReader reads back.
#include "common/bundle_writer.hpp"

#include <fcntl.h>

#include <catch2/catch.hpp>

#include "common/bundle_reader.hpp"
#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "unit/common/bundle_pki.hpp"

using namespace cairn;
using namespace cairn::testing;
namespace fs = std::filesystem;

namespace {

// Three payload files and the manifest fields of image "t" 2.0, signed by a test PKI.
struct Written {
  BundlePki pki;
  CmsSigner signer = pki.signer();
  NullProgress progress;
  TempDir dir = TempDir::create(fs::temp_directory_path(), "cairn-bundle-writer-").value();
  std::string root = std::string(300000, 'r') + "end", verity = std::string(4096, 'v'),
              uki = "MZ uki bytes";
  BundleContents contents;

  Written() {
    REQUIRE(write_file_atomic(dir.path() / "root.erofs", root));
    REQUIRE(write_file_atomic(dir.path() / "root.verity", verity));
    REQUIRE(write_file_atomic(dir.path() / "uki.efi", uki));
    contents = {.manifest = {.name = "t",
                             .version = "2.0",
                             .security_version = 2,
                             .machine_class = "x86_64-t",
                             .created = "2023-11-14T22:13:20Z",
                             .root_hash = std::string(64, 'c')},
                .payloads = {{"root.erofs.zst", PayloadTarget::root, dir.path() / "root.erofs",
                              PayloadCompression::zstd},
                             {"root.verity", PayloadTarget::verity, dir.path() / "root.verity"},
                             {"uki.efi", PayloadTarget::uki, dir.path() / "uki.efi"}},
                .mtime = 1700000000};
  }
  Expected<BundleManifest> write(const fs::path& file) {
    return write_bundle_file(contents, signer, file, progress);
  }
};

struct ReadBack {
  BundleManifest manifest;
  SignerIdentity signer;
  std::vector<std::string> payloads;
};

Expected<ReadBack> read_back(const fs::path& file, SignatureVerifier& verifier) {
  auto fd = CAIRN_TRY(open_file(file, O_RDONLY));
  auto reader = CAIRN_TRY(BundleReader::open_fd(fd.get(), file.string()));
  ReadBack back{.manifest = CAIRN_TRY(reader.read_manifest(verifier))};
  back.signer = reader.signer();
  for (std::size_t i = 0; i < back.manifest.payloads.size(); ++i) {
    std::string& data = back.payloads.emplace_back();
    CAIRN_TRY(reader.read_next_payload([&](std::span<const std::uint8_t> chunk) -> Status {
      data.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
      return {};
    }));
  }
  CAIRN_CHECK(reader.finish());
  return back;
}

}  // namespace

TEST_CASE("a written bundle reads back: manifest, signer and payloads", "[bundle-writer]") {
  Written input;
  fs::path file = input.dir.path() / "t_2.0.cairnb";
  auto written = input.write(file);
  INFO((written ? "" : written.error().describe()));
  REQUIRE(written.has_value());

  auto verifier = input.pki.verifier();
  auto back = read_back(file, verifier);
  INFO((back ? "" : back.error().describe()));
  REQUIRE(back.has_value());
  CHECK(to_json(back->manifest) == to_json(*written));
  CHECK(back->manifest.version == "2.0");
  CHECK(back->manifest.security_version == 2);
  CHECK(back->manifest.machine_class == "x86_64-t");
  CHECK(back->manifest.root_hash == std::string(64, 'c'));
  REQUIRE(back->manifest.payloads.size() == 3);
  const auto& root = back->manifest.payloads[0];
  CHECK(root.compression == PayloadCompression::zstd);
  CHECK(root.size == input.root.size());  // the decompressed size
  CHECK(root.sha256 == to_hex(sha256(input.root)));
  CHECK(back->payloads == std::vector<std::string>{input.root, input.verity, input.uki});
  CHECK_THAT(back->signer.subject, Catch::Contains("Test signing"));

  // Another signer's trust anchors refuse it.
  BundlePki other;
  auto foreign = other.verifier();
  auto refused = read_back(file, foreign);
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().code() == Errc::crypto);
}

TEST_CASE("the same inputs give the same bundle bytes, written anywhere", "[bundle-writer]") {
  Written input;
  fs::path first = input.dir.path() / "first.cairnb";
  REQUIRE(input.write(first).has_value());
  // A bare file name is a file in the current directory (cairn-build bundle --output m.cairnb).
  fs::path cwd = fs::current_path();
  fs::create_directories(input.dir.path() / "here");
  fs::current_path(input.dir.path() / "here");
  auto bare = input.write("bare.cairnb");
  fs::current_path(cwd);
  INFO((bare ? "" : bare.error().describe()));
  REQUIRE(bare.has_value());
  // Identical, signature included: CmsSigner adds no signing time and RSA PKCS#1 v1.5
  // signatures are deterministic.
  CHECK(read_file(first).value() == read_file(input.dir.path() / "here/bare.cairnb").value());
  CHECK(fs::directory_iterator(input.dir.path() / "here")->path().filename() == "bare.cairnb");
}

TEST_CASE("a manifest the reader would refuse is not written", "[bundle-writer]") {
  Written input;
  input.contents.payloads[1].name = "../root.verity";
  fs::path file = input.dir.path() / "bad.cairnb";
  auto written = input.write(file);
  REQUIRE_FALSE(written.has_value());
  CHECK(written.error().code() == Errc::invalid_input);
  CHECK_FALSE(fs::exists(file));
  input.contents.payloads[1].name = "root.verity";
  input.contents.payloads[0].file = input.dir.path() / "absent";
  CHECK_FALSE(input.write(file).has_value());
}
