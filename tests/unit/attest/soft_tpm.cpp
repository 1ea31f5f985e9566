#include "soft_tpm.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/pem.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tpm2_types.h>

#include <chrono>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "common/eventlog.hpp"
#include "common/hash.hpp"
#include "common/pki.hpp"

namespace cairn::attest::testing {

namespace {

namespace fw = ::cairn::tpm;

// Test-fixture failures are bugs in the test set-up: they throw, and Catch reports them.
[[noreturn]] void broken(const std::string& what) { throw std::runtime_error("soft TPM: " + what); }

template <class T>
T need(Expected<T> value, const std::string& what) {
  if (!value) broken(what + ": " + value.error().describe());
  return std::move(*value);
}

// Each named key is made once per process and shared (an RSA key costs ~0.1 s to generate).
EvpPkeyPtr shared_key(const std::string& name, AkAlgorithm algorithm = AkAlgorithm::rsa) {
  static std::mutex mutex;
  static std::map<std::string, EvpPkeyPtr> keys;
  std::lock_guard lock(mutex);
  auto& key = keys[name];
  if (!key && algorithm == AkAlgorithm::rsa) key = need(generate_rsa_key(2048), "RSA key " + name);
  if (!key && algorithm == AkAlgorithm::ecc) key.reset(EVP_EC_gen("P-256"));
  if (!key) broken("no key " + name);
  EVP_PKEY_up_ref(key.get());
  return EvpPkeyPtr(key.get());
}

Bytes digest_of(const Bytes& data) {
  auto digest = sha256(data);
  return {digest.begin(), digest.end()};
}

Bytes digest_of(std::string_view text) { return digest_of(bytes_of(text)); }

Bytes utf16(std::string_view text) {
  Bytes out;
  for (char c : text) {
    out.push_back(static_cast<std::uint8_t>(c));
    out.push_back(0);
  }
  return out;
}

void put_le(Bytes& out, std::uint64_t value, int size) {
  for (int i = 0; i < size; ++i) out.push_back(static_cast<std::uint8_t>(value >> (8 * i)));
}

Bytes rsa_modulus(EVP_PKEY* key) {
  BIGNUM* n = nullptr;
  if (EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_RSA_N, &n) != 1) broken("RSA modulus");
  BignumPtr owned(n);
  Bytes out(256);
  if (BN_bn2binpad(n, out.data(), 256) != 256) broken("RSA modulus is not 2048 bits");
  return out;
}

Bytes ec_coordinate(EVP_PKEY* key, const char* which) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, which, &raw) != 1) broken("EC coordinate");
  BignumPtr value(raw);
  Bytes out(32);
  if (BN_bn2binpad(value.get(), out.data(), 32) != 32) broken("EC coordinate is not P-256 sized");
  return out;
}

template <class T, auto Marshal>
Bytes marshal(const T& value) {
  Bytes out(sizeof(T) + 64);
  std::size_t offset = 0;
  if (Marshal(&value, out.data(), out.size(), &offset) != TSS2_RC_SUCCESS) broken("marshaling");
  out.resize(offset);
  return out;
}

TPM2B_PUBLIC rsa_public(EVP_PKEY* key, TPMA_OBJECT attributes) {
  TPM2B_PUBLIC pub{};
  auto& area = pub.publicArea;
  area.type = TPM2_ALG_RSA;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = attributes;
  area.parameters.rsaDetail.keyBits = 2048;
  area.parameters.rsaDetail.exponent = 0;  // 65537
  auto modulus = rsa_modulus(key);
  area.unique.rsa.size = 256;
  std::memcpy(area.unique.rsa.buffer, modulus.data(), 256);
  return pub;
}

TPM2B_PUBLIC ecc_public(EVP_PKEY* key, TPMA_OBJECT attributes) {
  TPM2B_PUBLIC pub{};
  auto& area = pub.publicArea;
  area.type = TPM2_ALG_ECC;
  area.nameAlg = TPM2_ALG_SHA256;
  area.objectAttributes = attributes;
  area.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  area.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  auto x = ec_coordinate(key, OSSL_PKEY_PARAM_EC_PUB_X);
  auto y = ec_coordinate(key, OSSL_PKEY_PARAM_EC_PUB_Y);
  area.unique.ecc.x.size = 32;
  std::memcpy(area.unique.ecc.x.buffer, x.data(), 32);
  area.unique.ecc.y.size = 32;
  std::memcpy(area.unique.ecc.y.buffer, y.data(), 32);
  return pub;
}

// A TPMT_SIGNATURE's ECDSA r and s, each padded to 32 bytes, from OpenSSL's DER ECDSA-Sig-Value.
void set_ecdsa(TPMS_SIGNATURE_ECDSA& out, const Bytes& der) {
  const unsigned char* cursor = der.data();
  std::unique_ptr<ECDSA_SIG, OpensslDeleter<ECDSA_SIG_free>> sig(
      d2i_ECDSA_SIG(nullptr, &cursor, static_cast<long>(der.size())));
  if (!sig) broken("parsing an ECDSA signature");
  out.hash = TPM2_ALG_SHA256;
  out.signatureR.size = 32;
  out.signatureS.size = 32;
  if (BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out.signatureR.buffer, 32) != 32 ||
      BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out.signatureS.buffer, 32) != 32) {
    broken("ECDSA signature is not P-256 sized");
  }
}

Bytes name_of(const TPM2B_PUBLIC& pub) {
  auto area = marshal<TPMT_PUBLIC, Tss2_MU_TPMT_PUBLIC_Marshal>(pub.publicArea);
  Bytes name{0x00, 0x0b};
  auto digest = digest_of(area);
  name.insert(name.end(), digest.begin(), digest.end());
  return name;
}

// The TCG EK policy (PolicySecret(TPM_RH_ENDORSEMENT)) of the default RSA EK template.
constexpr std::uint8_t kEkPolicy[32] = {
    0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
    0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

Bytes chain(const Bytes& start, const std::vector<Bytes>& digests) {
  Bytes pcr = start;
  for (const auto& digest : digests) pcr = fw::extend(pcr, digest, fw::kAlgSha256);
  return pcr;
}

// PCR 11 as the stub leaves it: SHA-256(name + NUL), then SHA-256(contents), per section.
std::vector<Bytes> section_digests(const SoftImage& image) {
  std::vector<Bytes> out;
  for (const auto& [name, contents] : image.sections) {
    out.push_back(digest_of(std::string_view(name.c_str(), name.size() + 1)));
    out.push_back(digest_of(contents));
  }
  return out;
}

constexpr std::array<std::uint8_t, 16> kGlobalGuid = {
    0x61, 0xdf, 0xe4, 0x8b, 0xca, 0x93, 0xd2, 0x11, 0xaa, 0x0d, 0x00, 0xe0, 0x98, 0x03, 0x2b, 0x8c};
constexpr std::array<std::uint8_t, 16> kDbGuid = {0xcb, 0xb2, 0x19, 0xd7, 0x3a, 0x3d, 0x96, 0x45,
                                                  0xa3, 0xbc, 0xda, 0xd0, 0x0e, 0x67, 0x65, 0x6f};

}  // namespace

Bytes bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

SoftImage SoftImage::create(std::string name, std::string version) {
  SoftImage image;
  image.name = std::move(name);
  image.version = std::move(version);
  image.systemd_boot_authenticode = digest_of("systemd-boot 252 " + image.name);
  image.uki_authenticode = digest_of("uki " + image.name + " " + image.version);
  image.sections = {{".linux", "kernel " + image.version},
                    {".osrel", "ID=debian\nIMAGE_VERSION=" + image.version + "\n"},
                    {".cmdline", "root=PARTUUID=a ro verity=1"},
                    {".initrd", "initrd " + image.version},
                    {".uname", "6.1.0-18-cloud-amd64"},
                    {".sbat", "sbat,1\n"},
                    {".pcrpkey", "pcr public key"}};
  image.cmdline = "root=PARTUUID=a ro verity=1";
  image.db_key = shared_key("db " + image.name);
  auto now = std::chrono::system_clock::now();
  image.db_certificate = need(issue_certificate({.common_name = "Cairn Secure Boot db",
                                                 .is_ca = false,
                                                 .not_before = now - std::chrono::hours(24),
                                                 .not_after = now + std::chrono::hours(24 * 365)},
                                                image.db_key.get(), image.db_key.get(), nullptr),
                              "db certificate");
  return image;
}

SoftImage SoftImage::next(std::string next_version) const {
  SoftImage image;
  image.name = name;
  image.version = std::move(next_version);
  image.systemd_boot_authenticode = systemd_boot_authenticode;
  image.uki_authenticode = digest_of("uki " + image.name + " " + image.version);
  image.sections = sections;
  image.sections[0].second = "kernel " + image.version;
  image.sections[1].second = "ID=debian\nIMAGE_VERSION=" + image.version + "\n";
  image.cmdline = cmdline;
  EVP_PKEY_up_ref(db_key.get());
  image.db_key.reset(db_key.get());
  image.db_certificate.reset(X509_dup(db_certificate.get()));
  return image;
}

Bytes SoftImage::db_der() const {
  unsigned char* der = nullptr;
  int size = i2d_X509(db_certificate.get(), &der);
  if (size <= 0) broken("db certificate DER");
  Bytes out(der, der + size);
  OPENSSL_free(der);
  return out;
}

GoldenMeasurements SoftImage::golden() const {
  GoldenMeasurements golden;
  golden.name = name;
  golden.version = version;
  golden.systemd_boot_authenticode = to_hex(systemd_boot_authenticode);
  golden.uki_authenticode = to_hex(uki_authenticode);
  Bytes pcr = chain(Bytes(32, 0), section_digests(*this));
  golden.pcr11["sections"] = to_hex(pcr);
  for (auto phase : kBootPhases) {
    pcr = chain(pcr, {digest_of(phase)});
    golden.pcr11[std::string(phase)] = to_hex(pcr);
  }
  golden.pcr12 = to_hex(chain(Bytes(32, 0), {digest_of(utf16(cmdline))}));
  golden.pcr13 = std::string(64, '0');
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), db_certificate.get());
  char* pem = nullptr;
  long size = BIO_get_mem_data(bio.get(), &pem);
  golden.secure_boot_db_pem.assign(pem, static_cast<std::size_t>(size));
  golden.secure_boot_db_sha256 = to_hex(digest_of(db_der()));
  golden.secure_boot_db_subject = certificate_subject(db_certificate.get());
  return golden;
}

Bytes spec_id_header() {
  Bytes spec = bytes_of(std::string_view("Spec ID Event03\0", 16));
  put_le(spec, 0, 4);                     // platform class
  spec.insert(spec.end(), {0, 2, 0, 2});  // minor, major, errata, uintn size
  put_le(spec, 1, 4);                     // one bank: sha256
  put_le(spec, fw::kAlgSha256, 2);
  put_le(spec, 32, 2);
  spec.push_back(0);  // vendor info size
  Bytes out;
  put_le(out, 0, 4);
  put_le(out, fw::kEvNoAction, 4);
  out.insert(out.end(), 20, 0);
  put_le(out, spec.size(), 4);
  out.insert(out.end(), spec.begin(), spec.end());
  return out;
}

Bytes uefi_variable(const std::array<std::uint8_t, 16>& guid, std::string_view name,
                    const Bytes& data) {
  Bytes out(guid.begin(), guid.end());
  put_le(out, name.size(), 8);
  put_le(out, data.size(), 8);
  auto wide = utf16(name);
  out.insert(out.end(), wide.begin(), wide.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

SoftTpm::SoftTpm(int identity, AkAlgorithm ak, int ek_identity)
    : identity_(identity), ak_algorithm_(ak) {
  ek_key_ = shared_key("EK " + std::to_string(ek_identity < 0 ? identity : ek_identity));
  auto ek =
      rsa_public(ek_key_.get(), TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                                    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                                    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT);
  ek.publicArea.authPolicy.size = 32;
  std::memcpy(ek.publicArea.authPolicy.buffer, kEkPolicy, 32);
  auto& symmetric = ek.publicArea.parameters.rsaDetail.symmetric;
  symmetric.algorithm = TPM2_ALG_AES;
  symmetric.keyBits.aes = 128;
  symmetric.mode.aes = TPM2_ALG_CFB;
  ek.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
  ek_public_ = marshal<TPM2B_PUBLIC, Tss2_MU_TPM2B_PUBLIC_Marshal>(ek);
  rotate_ak();
  reset();
  reset_count_ = 1;
}

void SoftTpm::rotate_ak() {
  bool ecc = ak_algorithm_ == AkAlgorithm::ecc;
  ak_key_ = shared_key(std::string(ecc ? "ECC AK " : "AK ") + std::to_string(identity_) + "." +
                           std::to_string(ak_generation_++),
                       ak_algorithm_);
  TPMA_OBJECT attributes = TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                           TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                           TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH;
  TPM2B_PUBLIC ak{};
  if (ecc) {
    ak = ecc_public(ak_key_.get(), attributes);
    ak.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    ak.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    ak.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  } else {
    ak = rsa_public(ak_key_.get(), attributes);
    ak.publicArea.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    ak.publicArea.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
    ak.publicArea.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  }
  ak_public_ = marshal<TPM2B_PUBLIC, Tss2_MU_TPM2B_PUBLIC_Marshal>(ak);
  ak_name_ = name_of(ak);
}

void SoftTpm::reset() {
  pcrs_.clear();
  log_ = spec_id_header();
  ++reset_count_;
  clock_ = 100000;
}

Bytes SoftTpm::pcr(std::uint32_t index) const {
  auto it = pcrs_.find(index);
  return it == pcrs_.end() ? Bytes(32, 0) : it->second;
}

void SoftTpm::extend(std::uint32_t index, const Bytes& digest) {
  pcrs_[index] = fw::extend(pcr(index), digest, fw::kAlgSha256);
}

void SoftTpm::log(std::uint32_t index, std::uint32_t type, const Bytes& digest, const Bytes& data) {
  put_le(log_, index, 4);
  put_le(log_, type, 4);
  put_le(log_, 1, 4);
  put_le(log_, fw::kAlgSha256, 2);
  log_.insert(log_.end(), digest.begin(), digest.end());
  put_le(log_, data.size(), 4);
  log_.insert(log_.end(), data.begin(), data.end());
  if (type != fw::kEvNoAction) extend(index, digest);
}

void SoftTpm::log_data(std::uint32_t index, std::uint32_t type, const Bytes& data) {
  log(index, type, digest_of(data), data);
}

void SoftTpm::boot(const SoftImage& image, const BootOptions& options) {
  if (options.startup_locality != 0) {
    Bytes data(17, 0);  // "StartupLocality\0", then the locality
    std::memcpy(data.data(), "StartupLocality", 15);
    data[16] = static_cast<std::uint8_t>(options.startup_locality);
    log(0, fw::kEvNoAction, Bytes(32, 0), data);
    Bytes start(32, 0);
    start.back() = static_cast<std::uint8_t>(options.startup_locality);
    pcrs_[0] = start;
  }
  // PCR 0-2: firmware volumes, version, drivers.
  log_data(0, fw::kEvSCrtmVersion, utf16("1.00"));
  for (int i = 0; i < 6; ++i) {
    Bytes blob;
    put_le(blob, 0xffc00000u + static_cast<unsigned>(i) * 0x10000u, 8);
    put_le(blob, 0x10000, 8);
    log(0, fw::kEvEfiPlatformFirmwareBlob, digest_of("firmware volume " + std::to_string(i)), blob);
  }
  log_data(1, fw::kEvEfiHandoffTables, bytes_of("ACPI tables"));
  for (auto variable : {"BootOrder", "Boot0000", "Boot0001", "Boot0002", "Boot0003"}) {
    log_data(1, fw::kEvEfiVariableBoot,
             uefi_variable(kGlobalGuid, variable, bytes_of(std::string("entry ") + variable)));
  }
  if (options.unknown_event) log_data(1, 0x0000ffff, bytes_of("vendor event"));
  for (int i = 0; i < 3; ++i) {
    log_data(2, fw::kEvEfiBootServicesDriver, bytes_of("option rom " + std::to_string(i)));
  }
  // PCR 7: the Secure Boot policy.
  log_data(
      7, fw::kEvEfiVariableDriverConfig,
      uefi_variable(kGlobalGuid, "SecureBoot", {static_cast<std::uint8_t>(options.secure_boot)}));
  log_data(7, fw::kEvEfiVariableDriverConfig,
           uefi_variable(kGlobalGuid, "PK", bytes_of("PK list")));
  log_data(7, fw::kEvEfiVariableDriverConfig,
           uefi_variable(kGlobalGuid, "KEK", bytes_of("KEK list")));
  Bytes db_list = bytes_of("signature list header");
  auto der = image.db_der();
  db_list.insert(db_list.end(), der.begin(), der.end());
  log_data(7, fw::kEvEfiVariableDriverConfig, uefi_variable(kDbGuid, "db", db_list));
  log_data(7, fw::kEvEfiVariableDriverConfig, uefi_variable(kDbGuid, "dbx", bytes_of("dbx")));
  // Ready to boot: a separator in PCRs 0-7.
  log_data(4, fw::kEvEfiAction, bytes_of("Calling EFI Application from Boot Option"));
  for (std::uint32_t index = 0; index <= 7; ++index) {
    log_data(index, fw::kEvSeparator, Bytes(4, 0));
  }
  log_data(5, fw::kEvEfiGptEvent, bytes_of("EFI PART header and 2 partition entries"));
  // systemd-boot, authorised by the db certificate.
  Bytes image_load(32, 0x11);
  log(4, fw::kEvEfiBootServicesApplication, image.systemd_boot_authenticode, image_load);
  if (options.db_authority) {
    Bytes signature_data(16, 0x42);  // SignatureOwner GUID, then the certificate
    signature_data.insert(signature_data.end(), der.begin(), der.end());
    if (options.db_authority_data) signature_data = *options.db_authority_data;
    log_data(7, fw::kEvEfiVariableAuthority, uefi_variable(kDbGuid, "db", signature_data));
  }
  // systemd-boot measures the command line it passes, then loads the UKI.
  auto cmdline = utf16(options.cmdline_override.empty() ? image.cmdline : options.cmdline_override);
  log(12, fw::kEvIpl, digest_of(cmdline), cmdline);
  log(4, fw::kEvEfiBootServicesApplication, image.uki_authenticode, Bytes(32, 0x22));
  // The stub measures its sections into PCR 11 (its own log entries: EV_IPL with a description).
  auto digests = section_digests(image);
  for (std::size_t i = 0; i < digests.size(); ++i) {
    log(11, fw::kEvIpl, digests[i], utf16(image.sections[i / 2].first));
  }
  // Linux measures the initrd into PCR 9; the firmware logs ExitBootServices.
  log_data(9, fw::kEvEventTag, bytes_of(image.sections[3].second));
  log_data(5, fw::kEvEfiAction, bytes_of("Exit Boot Services Invocation"));
  log_data(5, fw::kEvEfiAction, bytes_of("Exit Boot Services Returned with Success"));
  // systemd-pcrphase (no log in systemd 252).
  for (auto phase : kBootPhases) {
    extend(11, digest_of(phase));
    if (phase == options.phase) break;
  }
}

SignedQuote SoftTpm::quote(const Bytes& nonce, const QuoteOptions& options) {
  clock_ += 1000;
  TPMS_ATTEST attest{};
  attest.magic = options.magic;
  attest.type = TPM2_ST_ATTEST_QUOTE;
  attest.qualifiedSigner.size = static_cast<UINT16>(ak_name_.size());
  std::memcpy(attest.qualifiedSigner.name, ak_name_.data(), ak_name_.size());
  if (nonce.size() > sizeof attest.extraData.buffer) broken("nonce too long");
  attest.extraData.size = static_cast<UINT16>(nonce.size());
  std::memcpy(attest.extraData.buffer, nonce.data(), nonce.size());
  attest.clockInfo = {.clock = clock_, .resetCount = reset_count_, .restartCount = 0, .safe = 1};
  attest.firmwareVersion = 0x2020092100000000;
  auto& quote = attest.attested.quote;
  quote.pcrSelect.count = 1;
  auto& bank = quote.pcrSelect.pcrSelections[0];
  bank.hash = options.bank;
  bank.sizeofSelect = 3;
  Bytes concatenated;
  for (auto index : options.pcrs) {
    bank.pcrSelect[index / 8] |= static_cast<std::uint8_t>(1u << (index % 8));
  }
  for (std::uint32_t index = 0; index < 24; ++index) {  // selection order: ascending
    if (bank.pcrSelect[index / 8] & (1u << (index % 8))) {
      auto value = pcr(index);
      concatenated.insert(concatenated.end(), value.begin(), value.end());
    }
  }
  auto digest = digest_of(concatenated);
  quote.pcrDigest.size = 32;
  std::memcpy(quote.pcrDigest.buffer, digest.data(), 32);

  SignedQuote out;
  out.attest = marshal<TPMS_ATTEST, Tss2_MU_TPMS_ATTEST_Marshal>(attest);
  out.attest[4] = static_cast<std::uint8_t>(options.type >> 8);  // type follows the magic
  out.attest[5] = static_cast<std::uint8_t>(options.type);

  EvpMdCtxPtr context(EVP_MD_CTX_new());
  Bytes signed_bytes(256);  // an RSA-2048 signature, or a DER ECDSA-Sig-Value (at most 72)
  std::size_t size = signed_bytes.size();
  if (EVP_DigestSignInit(context.get(), nullptr, EVP_sha256(), nullptr, ak_key_.get()) != 1 ||
      EVP_DigestSign(context.get(), signed_bytes.data(), &size, out.attest.data(),
                     out.attest.size()) != 1) {
    broken("signing the quote");
  }
  signed_bytes.resize(size);
  TPMT_SIGNATURE signature{};
  if (ak_algorithm_ == AkAlgorithm::ecc) {
    signature.sigAlg = TPM2_ALG_ECDSA;
    set_ecdsa(signature.signature.ecdsa, signed_bytes);
  } else {
    signature.sigAlg = TPM2_ALG_RSASSA;
    signature.signature.rsassa.hash = TPM2_ALG_SHA256;
    signature.signature.rsassa.sig.size = static_cast<UINT16>(size);
    std::memcpy(signature.signature.rsassa.sig.buffer, signed_bytes.data(), size);
  }
  out.signature = marshal<TPMT_SIGNATURE, Tss2_MU_TPMT_SIGNATURE_Marshal>(signature);
  return out;
}

QuoteSubmission SoftTpm::submission(const std::string& host, const Bytes& nonce,
                                    const QuoteOptions& options) {
  auto signed_quote = quote(nonce, options);
  auto text = [](const Bytes& bytes) {
    return base64_encode({reinterpret_cast<const char*>(bytes.data()), bytes.size()});
  };
  QuoteSubmission out{.host = host,
                      .nonce = text(nonce),
                      .quoted = text(signed_quote.attest),
                      .signature = text(signed_quote.signature),
                      .event_log = text(log_),
                      .boot_id = "6c3b2a7e-8f0d-4c1e-9a55-2f6e1d0b9c47"};
  for (auto index : options.pcrs) out.pcrs[index] = to_hex(pcr(index));
  return out;
}

}  // namespace cairn::attest::testing
