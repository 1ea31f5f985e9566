// Writes the seed corpora of tests/fuzz/corpus from Cairn's own writers (manifest and golden
// measurements to_json, the channel index writer, the unit tests' SoftTpm and bundle layout, the
// verifier's token signing) and the TPM fixtures of tests/unit/attest/data. Run through
// tests/fuzz/make-corpus.
#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "attest/protocol.hpp"
#include "attest/revocations.hpp"
#include "attest/token.hpp"
#include "common/cms.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/manifest.hpp"
#include "common/pki.hpp"
#include "fleet/channel_index.hpp"
#include "unit/attest/soft_tpm.hpp"

namespace fs = std::filesystem;
using namespace cairn;
using attest::testing::Bytes;

namespace {

fs::path out_dir;

void seed(const std::string& harness, const std::string& name, std::string_view bytes,
          int selector = -1) {
  fs::create_directories(out_dir / harness);
  std::ofstream out(out_dir / harness / name, std::ios::binary | std::ios::trunc);
  if (selector >= 0) out.put(static_cast<char>(selector));
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string text_of(const Bytes& bytes) { return {bytes.begin(), bytes.end()}; }

template <class T>
T must(Expected<T> value, const char* what) {
  if (!value) {
    std::fprintf(stderr, "%s: %s\n", what, value.error().describe().c_str());
    std::exit(1);
  }
  return std::move(*value);
}

std::string zstd(const std::string& data) {
  std::string out(ZSTD_compressBound(data.size()), '\0');
  out.resize(ZSTD_compress(out.data(), out.size(), data.data(), data.size(), 3));
  return out;
}

// A pax tar as cairn-build writes bundles.
std::string tar(const std::vector<std::pair<std::string, std::string>>& members) {
  std::string out(1 << 20, '\0');
  std::size_t used = 0;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open_memory(a, out.data(), out.size(), &used);
  for (const auto& [name, bytes] : members) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, name.c_str());
    archive_entry_set_filetype(entry, AE_IFREG);
    archive_entry_set_perm(entry, 0644);
    archive_entry_set_size(entry, static_cast<la_int64_t>(bytes.size()));
    archive_write_header(a, entry);
    archive_write_data(a, bytes.data(), bytes.size());
    archive_entry_free(entry);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

void le(std::string& bytes, std::size_t at, std::uint64_t value, int width) {
  for (int i = 0; i < width; ++i) bytes[at + i] = static_cast<char>(value >> (8 * i));
}

// A minimal PE32+ EFI application shaped like a UKI: .osrel, .cmdline, .linux, .initrd.
std::string small_uki() {
  const std::vector<std::pair<std::string, std::string>> sections = {
      {".osrel", "ID=debian\nIMAGE_ID=kvm-host\nIMAGE_VERSION=1.0.0\nCAIRN_SECURITY_VERSION=2\n"},
      {".cmdline", "root=PARTUUID=4f68bce3-e8cd-4db1-96e7-fbcaf984b709 ro quiet\n"},
      {".linux", std::string(600, '\x90')},
      {".initrd", "070701initrd"}};
  const std::size_t pe = 0x80, optional = pe + 24, table = optional + 240, headers = 0x400;
  std::string image(headers, '\0');
  image[0] = 'M', image[1] = 'Z';
  le(image, 0x3c, pe, 4);
  image.replace(pe, 4, std::string("PE\0\0", 4));
  le(image, pe + 4, 0x8664, 2);             // Machine: x86-64
  le(image, pe + 6, sections.size(), 2);    // NumberOfSections
  le(image, pe + 20, 240, 2);               // SizeOfOptionalHeader
  le(image, pe + 22, 0x22, 2);              // executable, large address aware
  le(image, optional, 0x20b, 2);            // PE32+
  le(image, optional + 24, 0x10000000, 8);  // ImageBase
  le(image, optional + 32, 0x1000, 4);      // SectionAlignment
  le(image, optional + 36, 0x200, 4);       // FileAlignment
  le(image, optional + 60, headers, 4);     // SizeOfHeaders
  le(image, optional + 68, 10, 2);          // Subsystem: EFI application
  le(image, optional + 108, 16, 4);         // NumberOfRvaAndSizes
  std::uint32_t address = 0x1000;
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const auto& [name, contents] = sections[i];
    std::size_t at = table + 40 * i, raw = image.size();
    std::size_t raw_size = (contents.size() + 0x1ff) / 0x200 * 0x200;
    image.replace(at, name.size(), name);
    le(image, at + 8, contents.size(), 4);  // VirtualSize
    le(image, at + 12, address, 4);
    le(image, at + 16, raw_size, 4);
    le(image, at + 20, raw, 4);
    le(image, at + 36, 0x40000040, 4);  // initialized data, readable
    image += contents;
    image.resize(raw + raw_size, '\0');
    address += static_cast<std::uint32_t>((contents.size() + 0xfff) / 0x1000 * 0x1000);
  }
  le(image, optional + 56, address, 4);  // SizeOfImage
  return image;
}

void bundle_seeds(const fs::path& keys) {
  std::string root = zstd(std::string(3000, 'r') + "erofs"), uki = small_uki();
  std::string root_plain = std::string(3000, 'r') + "erofs", verity(512, 'v');
  auto hex = [](const std::string& data) { return to_hex(sha256(data)); };
  BundleManifest manifest{.name = "kvm-host",
                          .version = "1.0.0",
                          .security_version = 2,
                          .machine_class = "x86_64-kvm-host",
                          .created = "2023-11-14T22:13:20Z",
                          .root_hash = std::string(64, 'b'),
                          .payloads = {{"root.erofs.zst", PayloadTarget::root, root_plain.size(),
                                        hex(root_plain), PayloadCompression::zstd},
                                       {"root.verity", PayloadTarget::verity, verity.size(),
                                        hex(verity), PayloadCompression::none},
                                       {"cairn_1.0.0.efi", PayloadTarget::uki, uki.size(), hex(uki),
                                        PayloadCompression::none}}};
  std::string json = to_json(manifest);
  seed("manifest", "kvm-host-1.0.0.json", json);
  seed("strict_json", "manifest.json", json);
  auto signer = must(CmsSigner::load(keys / "signing.key", keys / "signing.crt"), "signer");
  std::string signature = must(signer.sign(json), "signing the manifest");
  std::string bundle = tar({{"manifest.json", json},
                            {"manifest.sig", signature},
                            {"root.erofs.zst", root},
                            {"root.verity", verity},
                            {"cairn_1.0.0.efi", uki}});
  seed("bundle_reader", "any-signature-file", bundle, 0);
  seed("bundle_reader", "cms-file", bundle, 3);
  seed("bundle_reader", "any-signature-pipe", bundle, 4);
  seed("bundle_reader", "padded-to-record", bundle + std::string(10240 - bundle.size() % 10240, 0),
       0);
  seed("pe", "small-uki.efi", uki);
}

// Channel indexes: entries of two machine classes, a paused one, a partial rollout; and a new
// channel without entries.
void channel_seeds() {
  using namespace fleet;
  using std::chrono::seconds;
  auto time = [](const char* text) { return must(parse_time(text), text); };
  ChannelEntry first{
      .version = "1.0.1",
      .security_version = 1,
      .machine_class = "x86_64-kvm-host",
      .bundle = {.path = "bundles/kvm-host_1.0.1.cairnb",
                 .size = 123456789,
                 .sha256 = std::string(64, 'd')},
      .published = time("2026-12-03T21:00:00Z"),
      .rollout = {.start = time("2026-12-03T21:00:00Z"),
                  .waves = {{0.1, seconds(0)}, {0.5, seconds(3600)}, {1.0, seconds(86400)}},
                  .max_failures = 3}};
  ChannelEntry paused = first, other_class = first;
  paused.version = "1.0.2";
  paused.bundle.path = "bundles/kvm-host_1.0.2.cairnb";
  paused.rollout.waves = {{0.25, seconds(600)}};
  paused.state = EntryState::paused;
  other_class.machine_class = "aarch64-kvm-host";
  seed("channel_index", "stable.json",
       channel_index_json({.channel = "stable",
                           .serial = 42,
                           .expires = time("2026-12-10T21:00:00Z"),
                           .entries = {first, paused, other_class}}));
  seed("channel_index", "new-channel.json",
       channel_index_json(
           {.channel = "staging", .serial = 1, .expires = time("2026-12-10T21:00:00Z")}));
}

void attest_seeds(const fs::path& data) {
  using namespace attest;
  auto image = testing::SoftImage::create("kvm-host", "1.0.0");
  std::string golden = to_json(image.golden());
  seed("golden_measurements", "kvm-host-1.0.0.json", golden);
  seed("strict_json", "measurements.json", golden);

  testing::SoftTpm tpm;
  tpm.boot(image);
  seed("eventlog", "soft-tpm-boot", text_of(tpm.event_log()));
  Bytes nonce(32, 0x5a);
  auto submission = tpm.submission("host-a", nonce);
  auto quote = tpm.quote(nonce);
  tpm.reset();
  tpm.boot(image, {.secure_boot = false, .unknown_event = true, .startup_locality = 3});
  seed("eventlog", "soft-tpm-locality-unknown-event", text_of(tpm.event_log()));

  EnrollRequest enroll{.host = "host-a",
                       .ek_public = base64_encode(text_of(tpm.ek_public())),
                       .ak_public = base64_encode(text_of(tpm.ak_public()))};
  seed("protocol", "enroll-request", to_json(enroll), 0);
  seed("protocol", "enroll-activation",
       to_json(EnrollActivation{.enrollment = "e-0001", .secret = base64_encode("secret")}), 1);
  seed("protocol", "nonce-request", to_json(NonceRequest{.host = "host-a"}), 2);
  seed("protocol", "quote-submission", to_json(submission), 3);
  seed("protocol", "base64", base64_encode(text_of(tpm.ak_public())), 4);
  seed("strict_json", "quote-submission.json", to_json(submission));

  // TPM structures: a real (swtpm) TPM's fixtures, and the SoftTpm's quote.
  auto file = [&](const char* name) { return must(read_file(data / name), name); };
  auto sized = [](const std::string& bytes) {
    return std::string{static_cast<char>(bytes.size() >> 8), static_cast<char>(bytes.size())} +
           bytes;
  };
  for (const char* name : {"rsa", "ecc", "rsapss"}) {
    std::string key = std::string("ak_") + name, quote_name = std::string("quote_") + name;
    std::string message = file((quote_name + ".msg").c_str());
    seed("tpm_structures", quote_name, message, 0);
    seed("tpm_structures", key, file((key + ".pub").c_str()), 1);
    seed("tpm_structures", quote_name + "-signed",
         sized(file((key + ".pub").c_str())) + sized(message) + file((quote_name + ".sig").c_str()),
         2);
  }
  seed("tpm_structures", "ek_rsa", file("ek_rsa.pub"), 1);
  seed("tpm_structures", "ek_ecc", file("ek_ecc.pub"), 1);
  seed("tpm_structures", "soft-tpm-quote-signed",
       sized(text_of(tpm.ak_public())) + sized(text_of(quote.attest)) + text_of(quote.signature),
       2);
}

void token_seeds(const fs::path& keys) {
  using namespace attest;
  auto key = must(read_private_key_pem(keys / "token.key"), "token key");
  TokenClaims claims{.host = "host-a",
                     .image = "kvm-host 1.0.0",
                     .boot_id = "0f6e2b4c-8a1d-4e55-9a3b-2c7d1e9f4a60",
                     .reset_count = 1,
                     .issued_at = 1704067000,
                     .expires_at = 1704067600};
  std::string token = must(sign_token(claims, key.get()), "token");
  RevocationList list{.serial = 1704067000000,
                      .issued_at = 1704067000,
                      .expires_at = 1704070600,
                      .revoked = {"kvm-host 0.9.0", "kvm-host 0.9.1"}};
  std::string revocations = must(sign_revocation_list(list, key.get()), "revocation list");
  seed("signed_payloads", "token", token, 0);
  seed("signed_payloads", "revocation-list", revocations, 0);
  // The payloads alone, for the harness to sign.
  auto payload = [](const std::string& text) {
    std::string part = text.substr(0, text.find('.'));
    for (char& c : part) c = c == '-' ? '+' : c == '_' ? '/' : c;
    part.append((4 - part.size() % 4) % 4, '=');
    return must(base64_decode(part), "payload");
  };
  seed("signed_payloads", "token-claims", payload(token), 1);
  seed("signed_payloads", "revocation-payload", payload(revocations), 1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s OUT_DIR KEYS_DIR ATTEST_DATA_DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  bundle_seeds(argv[2]);
  channel_seeds();
  attest_seeds(argv[3]);
  token_seeds(argv[2]);
  return 0;
}
