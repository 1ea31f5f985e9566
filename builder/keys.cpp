#include "builder/keys.hpp"

#include <nlohmann/json.hpp>

#include "common/fs.hpp"
#include "common/golden_measurements.hpp"
#include "common/pki.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Owner GUID recorded in the EFI signature lists (measurements.json names it for the verifier).
const std::string kOwnerGuid(kCairnSignatureOwner);

BuildKeys paths_in(const fs::path& dir) {
  return {.dir = dir,
          .db_key = dir / "db.key",
          .db_cert = dir / "db.crt",
          .signing_key = dir / "signing.key",
          .signing_cert = dir / "signing.crt",
          .trust_dir = dir / "trust",
          .pk_auth = dir / "PK.auth",
          .kek_auth = dir / "KEK.auth",
          .db_auth = dir / "db.auth"};
}

struct KeyPair {
  EvpPkeyPtr key;
  X509Ptr cert;
};

Expected<KeyPair> make_pair(const fs::path& dir, const std::string& name,
                            CertificateRequest request, const KeyPair* issuer, int bits) {
  KeyPair pair;
  pair.key = CAIRN_TRY(generate_rsa_key(bits));
  pair.cert = CAIRN_TRY(issue_certificate(request, pair.key.get(),
                                          issuer ? issuer->key.get() : pair.key.get(),
                                          issuer ? issuer->cert.get() : nullptr));
  CAIRN_CHECK(write_private_key_pem(dir / (name + ".key"), pair.key.get()));
  CAIRN_CHECK(write_certificate_pem(dir / (name + ".crt"), pair.cert.get()));
  return pair;
}

Status make_auth(ProcessRunner& runner, const fs::path& dir, const std::string& var,
                 const std::string& signer) {
  std::string esl = (dir / (var + ".esl")).string();
  CAIRN_CHECK(run_step(
      runner,
      {.argv = {"cert-to-efi-sig-list", "-g", kOwnerGuid, (dir / (var + ".crt")).string(), esl}},
      "making " + var + ".esl"));
  return run_step(
      runner,
      {.argv = {"sign-efi-sig-list", "-g", kOwnerGuid, "-k", (dir / (signer + ".key")).string(),
                "-c", (dir / (signer + ".crt")).string(), var, esl,
                (dir / (var + ".auth")).string()}},
      "making " + var + ".auth");
}

}  // namespace

Expected<BuildKeys> create_dev_pki(const fs::path& dir, const DevPkiOptions& options,
                                   ProcessRunner& runner) {
  std::error_code ec;
  if (!options.force && fs::exists(dir / "signing.key", ec)) {
    return fail(Errc::invalid_input,
                "keys already exist in " + dir.string() + " (use --force to replace them)");
  }
  fs::create_directories(dir / "trust", ec);
  if (ec) return fail(Errc::io, "creating " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms(0700), ec);

  auto now = std::chrono::system_clock::now();
  auto ten_years = now + 24h * 3650;
  auto root = [&](std::string cn, std::uint64_t serial) {
    return CertificateRequest{.common_name = std::move(cn),
                              .is_ca = true,
                              .not_before = now - 1h,
                              .not_after = ten_years,
                              .serial = serial};
  };
  auto pk = CAIRN_TRY(make_pair(dir, "PK", root("Cairn dev PK", 1), nullptr, 2048));
  auto kek = CAIRN_TRY(make_pair(dir, "KEK", root("Cairn dev KEK", 2), &pk, 2048));
  auto db = CAIRN_TRY(make_pair(dir, "db", root("Cairn dev db", 3), &kek, 2048));
  CAIRN_CHECK(make_auth(runner, dir, "PK", "PK"));
  CAIRN_CHECK(make_auth(runner, dir, "KEK", "PK"));
  CAIRN_CHECK(make_auth(runner, dir, "db", "KEK"));

  auto ca = CAIRN_TRY(make_pair(dir, "image-ca", root("Cairn dev image CA", 4), nullptr, 3072));
  CertificateRequest signing{.common_name = "Cairn dev image signing",
                             .not_before = options.signing_not_before,
                             .not_after = options.signing_not_before + options.signing_validity,
                             .serial = 5};
  auto signer = CAIRN_TRY(make_pair(dir, "signing", signing, &ca, 3072));

  CAIRN_CHECK(write_certificate_pem(dir / "trust/image-ca.crt", ca.cert.get()));
  CAIRN_CHECK(write_certificate_pem(dir / "trust/db.crt", db.cert.get()));

  nlohmann::json manifest = {{"note", "development keys: never use them for production hosts"}};
  for (auto& [name, pair] : std::vector<std::pair<std::string, KeyPair*>>{
           {"PK", &pk}, {"KEK", &kek}, {"db", &db}, {"image-ca", &ca}, {"signing", &signer}}) {
    manifest["certificates"][name] = {{"subject", certificate_subject(pair->cert.get())},
                                      {"sha256", certificate_sha256_fingerprint(pair->cert.get())}};
  }
  CAIRN_CHECK(write_file_atomic(dir / "pki.json", manifest.dump(2) + "\n"));
  return load_build_keys(dir);
}

Expected<BuildKeys> load_build_keys(const fs::path& dir) {
  BuildKeys keys = paths_in(dir);
  std::error_code ec;
  for (const auto& path :
       {keys.db_key, keys.db_cert, keys.signing_key, keys.signing_cert,
        keys.trust_dir / "image-ca.crt", keys.pk_auth, keys.kek_auth, keys.db_auth}) {
    if (!fs::exists(path, ec)) {
      return fail(Errc::not_found, "missing key material: " + path.string() +
                                       " (create a development PKI with `cairn-build keys --dir " +
                                       dir.string() + "`)");
    }
  }
  return keys;
}

}  // namespace cairn::builder
