#include "common/bundle_reader.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zstd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/pki.hpp"
#include "unit/common/bundle_pki.hpp"

using namespace cairn;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Archives forged member by member, valid or not: the reader's refusals are this file's subject
// (bundle_writer_test has the round trip of what cairn-build writes).
struct Member {
  std::string name;
  std::string bytes;
  unsigned type = AE_IFREG;  // AE_IFLNK and AE_IFCHR make the members a bundle must refuse
};

std::string zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
  return out;
}

// A pax tar of `members`, unpadded (the padding tests add their own).
std::string tar(const std::vector<Member>& members) {
  std::string out(1 << 22, '\0');
  std::size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  REQUIRE(archive_write_open_memory(a, out.data(), out.size(), &used) == ARCHIVE_OK);
  for (const auto& member : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, member.name.c_str());
    archive_entry_set_filetype(entry, member.type);
    archive_entry_set_perm(entry, 0644);
    if (member.type == AE_IFLNK) archive_entry_set_symlink(entry, "/etc/shadow");
    archive_entry_set_size(
        entry, member.type == AE_IFREG ? static_cast<la_int64_t>(member.bytes.size()) : 0);
    REQUIRE(archive_write_header(a, entry) == ARCHIVE_OK);
    if (member.type == AE_IFREG) archive_write_data(a, member.bytes.data(), member.bytes.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

const testing::BundlePki& pki() {
  static testing::BundlePki shared;
  return shared;
}

struct Bundle {
  std::string root = std::string(300000, 'r') + "end", verity = std::string(4096, 'v'),
              uki = "MZ fake uki";
  BundleManifest manifest;
  std::string manifest_json, signature;
  std::vector<Member> members;

  Bundle() {
    auto hex = [](const std::string& data) { return to_hex(sha256(data)); };
    manifest = {.name = "t",
                .version = "2.0",
                .security_version = 2,
                .machine_class = "x86_64-t",
                .created = "2023-11-14T22:13:20Z",
                .root_hash = std::string(64, 'c'),
                .payloads = {{"root.erofs.zst", PayloadTarget::root, root.size(), hex(root),
                              PayloadCompression::zstd},
                             {"root.verity", PayloadTarget::verity, verity.size(), hex(verity)},
                             {"uki.efi", PayloadTarget::uki, uki.size(), hex(uki)}}};
    manifest_json = to_json(manifest);
    signature = pki().signer().sign(manifest_json).value();
    members = {{"manifest.json", manifest_json},
               {"manifest.sig", signature},
               {"root.erofs.zst", zstd(root)},
               {"root.verity", verity},
               {"uki.efi", uki}};
  }
};

struct Outcome {
  std::string error;  // empty: the bundle read completely
  Errc code = Errc::internal;
  std::vector<std::string> payloads;
};

Outcome read_fd(int fd, CmsVerifier* verifier = nullptr, BundleReader::EndCheck check = {}) {
  auto own = pki().verifier();
  Outcome outcome;
  auto run = [&]() -> Status {
    auto reader = CAIRN_TRY(BundleReader::open_fd(fd, "b", std::move(check)));
    auto manifest = CAIRN_TRY(reader.read_manifest(verifier ? *verifier : own));
    for (std::size_t i = 0; i < manifest.payloads.size(); ++i) {
      std::string data;
      CAIRN_TRY(reader.read_next_payload([&](std::span<const std::uint8_t> chunk) -> Status {
        data.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
        return {};
      }));
      outcome.payloads.push_back(std::move(data));
    }
    return reader.finish();
  };
  if (auto status = run(); !status) {
    outcome.error = status.error().describe();
    outcome.code = status.error().code();
  }
  return outcome;
}

Outcome read(const std::string& bytes, CmsVerifier* verifier = nullptr) {
  auto dir = TempDir::create(fs::temp_directory_path(), "cairn-bundle-").value();
  REQUIRE(write_file_atomic(dir.path() / "b", bytes));
  auto fd = open_file(dir.path() / "b", O_RDONLY).value();
  return read_fd(fd.get(), verifier);
}

// The bundle through a socket, as from a download (or a pipe on stdin): written by a thread that
// closes its end after `bytes`, or first holds it open for `hold` unless the read ends earlier.
Outcome read_stream(const std::string& bytes, BundleReader::EndCheck check = {},
                    std::chrono::seconds hold = 0s) {
  int ends[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, ends) == 0);
  UniqueFd reader(ends[0]), writer(ends[1]);
  std::atomic<bool> done = false;
  std::thread feeder([&] {
    std::string_view left = bytes;
    while (!left.empty()) {
      ssize_t n = ::send(writer.get(), left.data(), left.size(), MSG_NOSIGNAL);
      if (n <= 0) break;
      left.remove_prefix(static_cast<std::size_t>(n));
    }
    auto until = std::chrono::steady_clock::now() + hold;
    while (!done && std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(10ms);
    writer.reset();
  });
  auto outcome = read_fd(reader.get(), nullptr, std::move(check));
  done = true;
  reader.reset();  // a feeder still writing fails
  feeder.join();
  return outcome;
}

std::size_t padding(std::size_t size) { return (10240 - size % 10240) % 10240; }

}  // namespace

TEST_CASE("a forged bundle that is well formed reads back payload by payload", "[bundle]") {
  Bundle bundle;
  auto outcome = read(tar(bundle.members));
  INFO(outcome.error);
  REQUIRE(outcome.error.empty());
  REQUIRE(outcome.payloads.size() == 3);
  CHECK(outcome.payloads[0] == bundle.root);  // decompressed
  CHECK(outcome.payloads[1] == bundle.verity);
  CHECK(outcome.payloads[2] == bundle.uki);
}

TEST_CASE("bad bundles are refused with what is wrong", "[bundle]") {
  Bundle bundle;
  auto with = [&](auto edit) {
    auto members = bundle.members;
    edit(members);
    return read(tar(members));
  };
  auto expect = [](const Outcome& outcome, Errc code, const std::string& text) {
    INFO(outcome.error);
    CHECK(outcome.code == code);
    CHECK_THAT(outcome.error, Catch::Contains(text));
  };
  expect(with([](auto& m) { m.erase(m.begin() + 1); }), Errc::invalid_input,
         "member 'root.erofs.zst' where 'manifest.sig' belongs");
  expect(with([](auto& m) { m.resize(1); }), Errc::crypto, "unsigned bundle");
  // A manifest changed after signing: the signature no longer matches its bytes.
  expect(with([](auto& m) { m[0].bytes.replace(m[0].bytes.find("2.0"), 3, "9.0"); }),
         Errc::integrity, "manifest signature: signature does not match");
  expect(with([](auto& m) { m[3].bytes[10] ^= 1; }), Errc::integrity,
         "root.verity: sha256 differs from the signed manifest");
  expect(with([](auto& m) { m[4].bytes += "x"; }), Errc::integrity, "uki.efi is larger than");
  expect(with([](auto& m) { m[4].bytes.pop_back(); }), Errc::integrity, "uki.efi has 10 bytes");
  expect(with([](auto& m) { std::swap(m[3], m[4]); }), Errc::invalid_input,
         "member 'uki.efi' where 'root.verity' belongs");
  expect(with([](auto& m) { m.insert(m.begin() + 3, m[2]); }), Errc::invalid_input,
         "member 'root.erofs.zst' where 'root.verity' belongs");
  expect(with([](auto& m) {
           m.push_back({"extra", "x"});
         }),
         Errc::invalid_input, "where the archive should end");
  expect(with([](auto& m) { m[3].name = "../root.verity"; }), Errc::invalid_input,
         "is not a plain file name");
  expect(with([](auto& m) { m[3].name = "dir/root.verity"; }), Errc::invalid_input,
         "is not a plain file name");
  expect(with([](auto& m) {
           m[3] = {"root.verity", "", AE_IFLNK};
         }),
         Errc::invalid_input, "is not a regular file");
  expect(with([](auto& m) {
           m[3] = {"root.verity", "", AE_IFCHR};
         }),
         Errc::invalid_input, "is not a regular file");
  expect(with([](auto& m) { m.resize(3); }), Errc::invalid_input, "payload root.verity missing");

  auto whole = tar(bundle.members);
  auto truncated = read(whole.substr(0, whole.size() / 2));
  CHECK_FALSE(truncated.error.empty());
  CHECK(truncated.payloads.size() < 3);
}

TEST_CASE("a signer outside the trust anchors or an expired one is refused", "[bundle]") {
  Bundle bundle;
  testing::BundlePki other;
  auto foreign = other.verifier();
  auto outcome = read(tar(bundle.members), &foreign);
  CHECK(outcome.code == Errc::crypto);
  CHECK_THAT(outcome.error, Catch::Contains("manifest signature"));

  auto later = pki().verifier();
  later.set_time(std::chrono::system_clock::now() + 48h);
  auto expired = read(tar(bundle.members), &later);
  CHECK(expired.code == Errc::crypto);
  CHECK_THAT(expired.error, Catch::Contains("expired"));
}

TEST_CASE("a signature whose digest algorithm is unknown is refused (tests/fuzz)", "[bundle]") {
  // As the fuzzer made it: the sha256 OID of digestAlgorithms turned into one OpenSSL does not
  // know. CMS_verify then leaked the copy it makes of a memory BIO (LeakSanitizer in the fuzz
  // build; tests/fuzz/corpus/bundle_reader/leak-*); the data now reaches it through a buffer.
  Bundle bundle;
  std::string& signature = bundle.members[1].bytes;
  const std::string sha256_oid("\x60\x86\x48\x01\x65\x03\x04\x02\x01", 9);
  auto at = signature.find(sha256_oid);
  REQUIRE(at != std::string::npos);
  signature.replace(at, sha256_oid.size(), std::string("\x60\x86\x48\x01\x28\xb5\x2f\xfd\x01", 9));
  auto outcome = read(tar(bundle.members));
  CHECK(outcome.code == Errc::integrity);
  CHECK_THAT(outcome.error, Catch::Contains("manifest signature"));
  CHECK(outcome.payloads.empty());
}

TEST_CASE("zero padding to the tar record's end is part of the bundle", "[bundle]") {
  Bundle bundle;
  auto whole = tar(bundle.members);
  REQUIRE(padding(whole.size()) > 0);  // else this test would prove nothing
  auto padded = whole + std::string(padding(whole.size()), '\0');
  for (const auto& outcome : {read(whole), read(padded), read_stream(whole), read_stream(padded)}) {
    INFO(outcome.error);
    CHECK(outcome.error.empty());
    CHECK(outcome.payloads.size() == 3);
  }
}

TEST_CASE("data after the bundle's end is refused, from a file or a stream", "[bundle]") {
  Bundle bundle;
  auto whole = tar(bundle.members);
  std::string end = std::to_string(whole.size());
  auto expect = [](const Outcome& outcome, const std::string& text) {
    INFO(outcome.error);
    CHECK(outcome.code == Errc::invalid_input);
    CHECK_THAT(outcome.error, Catch::Contains(text));
    CHECK(outcome.payloads.size() == 3);  // read whole: the end is where it was noticed
  };
  auto garbage = whole + "garbage\n";
  expect(read(garbage), "b: data after the bundle's end: 8 bytes from byte " + end + " on");
  expect(read_stream(garbage), "b: data after the bundle's end: 8 bytes from byte " + end + " on");
  // Zeros past the record's end are not padding; neither is a byte other than zero within it.
  auto long_zeros = whole + std::string(padding(whole.size()) + 10240, '\0');
  expect(read(long_zeros), "data after the bundle's end: " +
                               std::to_string(padding(whole.size()) + 10240) + " bytes");
  // From a stream only as much is known as was read: how much that is depends on timing.
  expect(read_stream(long_zeros), "or more bytes from byte " + end + " on");
  auto dirty_padding = whole + std::string(padding(whole.size()) - 1, '\0') + "\x01";
  expect(read(dirty_padding), "data after the bundle's end");
  expect(read_stream(dirty_padding), "data after the bundle's end");
  // A second end-of-archive block that is not one.
  auto half_end = whole.substr(0, whole.size() - 512) + std::string(512, 'x');
  expect(read(half_end), "data after the bundle's end: 512 bytes from byte " +
                             std::to_string(whole.size() - 512) + " on");
  // A file's size tells how much follows, however much libarchive read ahead.
  expect(read(whole + std::string(3 << 20, 'g')),
         "data after the bundle's end: " + std::to_string(3 << 20) + " bytes");
}

TEST_CASE("the source's end check runs before a byte after the end is read", "[bundle]") {
  Bundle bundle;
  auto whole = tar(bundle.members);
  std::uint64_t seen_end = 0, seen_padded_end = 0;
  auto refuse = [&](std::uint64_t end, std::uint64_t padded_end) -> Status {
    seen_end = end;
    seen_padded_end = padded_end;
    return fail(Errc::invalid_input, "declared longer");
  };
  // The stream stays open after the bundle (for 5 s): finish() must not wait for its end.
  auto started = std::chrono::steady_clock::now();
  auto outcome = read_stream(whole, refuse, 5s);
  CHECK(std::chrono::steady_clock::now() - started < 2s);
  CHECK(outcome.error == "declared longer");
  CHECK(seen_end == whole.size());
  CHECK(seen_padded_end == whole.size() + padding(whole.size()));

  auto accept = [](std::uint64_t, std::uint64_t) -> Status { return {}; };
  CHECK(read_stream(whole, accept).error.empty());
}
