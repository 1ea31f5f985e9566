#include "common/uki_signature.hpp"

#include <openssl/asn1.h>
#include <openssl/objects.h>
#include <openssl/pkcs7.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>

#include "common/authenticode.hpp"
#include "common/fs.hpp"
#include "common/hash.hpp"
#include "common/little_endian.hpp"
#include "common/openssl.hpp"
#include "common/pki.hpp"

namespace cairn {

namespace {

using Pkcs7Ptr = std::unique_ptr<PKCS7, OpensslDeleter<PKCS7_free>>;
using X509SigPtr = std::unique_ptr<X509_SIG, OpensslDeleter<X509_SIG_free>>;
using Asn1ObjectPtr = std::unique_ptr<ASN1_OBJECT, OpensslDeleter<ASN1_OBJECT_free>>;

constexpr std::uint16_t kWinCertRevision2 = 0x0200;
constexpr std::uint16_t kWinCertTypePkcsSignedData = 0x0002;
constexpr std::size_t kWinCertHeader = 8;                          // dwLength, wRevision, wType
constexpr const char* kSpcIndirectData = "1.3.6.1.4.1.311.2.1.4";  // Authenticode content type

// UEFI checks neither validity periods nor key usage: a db certificate that has expired still
// admits what it signed, and Cairn's dev db certificate is a CA certificate. Chain errors still
// fail.
int firmware_like_verify(int ok, X509_STORE_CTX* context) {
  switch (X509_STORE_CTX_get_error(context)) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_INVALID_PURPOSE:
      return 1;
    default:
      return ok;
  }
}

// The SpcIndirectDataContent's bytes as signed (its DER without the outer SEQUENCE's tag and
// length: Authenticode's signed-content quirk) and the DigestInfo it holds.
struct IndirectData {
  std::string_view signed_bytes;
  X509SigPtr digest_info;
};

Expected<IndirectData> read_indirect_data(PKCS7* p7, std::string_view name) {
  auto bad = [&](const std::string& why) {
    return fail(Errc::invalid_input, std::string(name) + ": " + why);
  };
  PKCS7* contents = p7->d.sign->contents;
  Asn1ObjectPtr spc(OBJ_txt2obj(kSpcIndirectData, 1));
  if (!contents || !contents->type || !spc || OBJ_cmp(contents->type, spc.get()) != 0 ||
      !contents->d.other || contents->d.other->type != V_ASN1_SEQUENCE) {
    return bad("the signature holds no Authenticode SpcIndirectDataContent");
  }
  const ASN1_STRING* sequence = contents->d.other->value.sequence;
  const unsigned char* at = ASN1_STRING_get0_data(sequence);
  const unsigned char* begin = at;
  long length = 0;
  int tag = 0, klass = 0;
  long total = ASN1_STRING_length(sequence);
  if (ASN1_get_object(&at, &length, &tag, &klass, total) & 0x80 || tag != V_ASN1_SEQUENCE ||
      length != total - (at - begin)) {
    return bad("malformed SpcIndirectDataContent");
  }
  IndirectData data{
      .signed_bytes = {reinterpret_cast<const char*>(at), static_cast<std::size_t>(length)}};
  // SEQUENCE { data SpcAttributeTypeAndOptionalValue, messageDigest DigestInfo }
  const unsigned char* end = at + length;
  const unsigned char* element = at;
  long element_length = 0;
  if (ASN1_get_object(&element, &element_length, &tag, &klass, end - at) & 0x80 ||
      tag != V_ASN1_SEQUENCE) {
    return bad("malformed SpcIndirectDataContent");
  }
  at = element + element_length;
  data.digest_info.reset(d2i_X509_SIG(nullptr, &at, end - at));
  if (!data.digest_info || at != end) return bad("malformed digest in SpcIndirectDataContent");
  return data;
}

// Whether the SignedData names SHA-256, and only SHA-256, in its digestAlgorithms.
bool digests_only_sha256(const STACK_OF(X509_ALGOR) * algorithms) {
  if (sk_X509_ALGOR_num(algorithms) <= 0) return false;
  for (int i = 0; i < sk_X509_ALGOR_num(algorithms); ++i) {
    const ASN1_OBJECT* oid = nullptr;
    X509_ALGOR_get0(&oid, nullptr, nullptr, sk_X509_ALGOR_value(algorithms, i));
    if (OBJ_obj2nid(oid) != NID_sha256) return false;
  }
  return true;
}

// Checks one WIN_CERTIFICATE's PKCS#7 against the db certificate and the image's digest.
Status check_signed_data(std::string_view der, X509* db_cert, const Sha256Digest& image_digest,
                         std::string_view name) {
  auto bad = [&](const std::string& why) {
    return fail(Errc::invalid_input, std::string(name) + ": " + why);
  };
  const unsigned char* at = reinterpret_cast<const unsigned char*>(der.data());
  Pkcs7Ptr p7(d2i_PKCS7(nullptr, &at, static_cast<long>(der.size())));
  ERR_clear_error();
  if (!p7 || !PKCS7_type_is_signed(p7.get()) || !p7->d.sign) {
    return bad("the certificate table holds no PKCS#7 SignedData");
  }
  auto indirect = CAIRN_TRY(read_indirect_data(p7.get(), name));

  const X509_ALGOR* algorithm = nullptr;
  const ASN1_OCTET_STRING* digest = nullptr;
  X509_SIG_get0(indirect.digest_info.get(), &algorithm, &digest);
  const ASN1_OBJECT* algorithm_oid = nullptr;
  X509_ALGOR_get0(&algorithm_oid, nullptr, nullptr, algorithm);
  if (OBJ_obj2nid(algorithm_oid) != NID_sha256) {
    return bad("the signature's image digest is not SHA-256 (only SHA-256 is accepted)");
  }
  // Before PKCS7_verify, not only by it: given a memory BIO, OpenSSL 3.0's PKCS7_verify copies it
  // into a BIO of its own and leaks that copy (272 bytes) whenever it cannot set up a digest that
  // digestAlgorithms names — on every try of a forged signature (found by tests/fuzz). A buffer
  // BIO in front, as common/cms.cpp does for CMS_verify, is no way out here: PKCS7_verify then
  // frees only the first digest BIO of its chain.
  if (!digests_only_sha256(p7->d.sign->md_algs)) {
    return bad("the signature's digestAlgorithms are not SHA-256 (only SHA-256 is accepted)");
  }

  X509StorePtr store(X509_STORE_new());
  if (!store || X509_STORE_add_cert(store.get(), db_cert) != 1) {
    return fail_openssl(Errc::crypto, "loading the db certificate");
  }
  // The db certificate is trusted as it is, whoever issued it (KEK for Cairn's dev PKI), as
  // firmware trusts every db entry.
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  X509_STORE_set_purpose(store.get(), X509_PURPOSE_ANY);
  X509_STORE_set_verify_cb(store.get(), firmware_like_verify);
  BioPtr content(BIO_new_mem_buf(indirect.signed_bytes.data(),
                                 static_cast<int>(indirect.signed_bytes.size())));
  if (!content) return fail_openssl(Errc::crypto, "reading the signed content");
  if (PKCS7_verify(p7.get(), nullptr, store.get(), content.get(), nullptr, PKCS7_BINARY) != 1) {
    // PKCS7_verify puts the chain's own reason ("Verify error:…") in the error's data.
    const char* data = nullptr;
    int flags = 0;
    unsigned long error = ERR_peek_last_error_data(&data, &flags);
    const char* reason = ERR_reason_error_string(error);
    std::string why = reason ? reason : "verification failed";
    if (data && (flags & ERR_TXT_STRING) && *data) why += std::string(": ") + data;
    ERR_clear_error();
    return bad("the Authenticode signature does not verify against the db certificate " +
               certificate_subject(db_cert) + " (" + why + ")");
  }
  if (ASN1_STRING_length(digest) != static_cast<int>(image_digest.size()) ||
      std::memcmp(ASN1_STRING_get0_data(digest), image_digest.data(), image_digest.size()) != 0) {
    return bad("the image differs from what was signed: its Authenticode digest is " +
               to_hex(image_digest));
  }
  return {};
}

}  // namespace

Status check_uki_signature(std::span<const std::uint8_t> image, X509* db_cert,
                           std::string_view name) {
  std::string_view bytes(reinterpret_cast<const char*>(image.data()), image.size());
  auto bad = [&](const std::string& why) {
    return fail(Errc::invalid_input, std::string(name) + ": " + why);
  };
  auto table = CAIRN_TRY(authenticode_certificate_table(bytes, name));
  if (table.size == 0) return bad("the image is not signed (no Authenticode signature)");
  // The table is the last thing in a signed image: the digest covers everything before it.
  if (table.offset > bytes.size() || table.size != bytes.size() - table.offset) {
    return bad("the certificate table (" + std::to_string(table.size) + " bytes at " +
               std::to_string(table.offset) + ") does not end where the " +
               std::to_string(bytes.size()) + "-byte image ends: truncated or appended to");
  }
  Sha256Digest digest = CAIRN_TRY(authenticode_sha256(bytes, name));

  // WIN_CERTIFICATE entries, each 8-byte aligned; firmware accepts an image if one of them holds.
  std::string_view certificates = bytes.substr(table.offset);
  std::optional<Error> first_failure;
  for (std::size_t at = 0; at < certificates.size();) {
    if (certificates.size() - at < kWinCertHeader) return bad("truncated certificate table");
    std::size_t length = le32(certificates, at);
    if (length < kWinCertHeader || length > certificates.size() - at) {
      return bad("truncated certificate table (an entry claims " + std::to_string(length) +
                 " bytes)");
    }
    if (le16(certificates, at + 4) == kWinCertRevision2 &&
        le16(certificates, at + 6) == kWinCertTypePkcsSignedData) {
      auto status = check_signed_data(
          certificates.substr(at + kWinCertHeader, length - kWinCertHeader), db_cert, digest, name);
      if (status) return {};
      if (!first_failure) first_failure = std::move(status).error();
    }
    at += (length + 7) / 8 * 8;
  }
  if (first_failure) return std::unexpected(std::move(*first_failure));
  return bad("the certificate table holds no PKCS#7 signature");
}

Status check_uki_signature(const std::filesystem::path& uki,
                           const std::filesystem::path& db_cert_pem) {
  auto cert = CAIRN_TRY(read_certificate_pem(db_cert_pem));
  std::string image = CAIRN_TRY(read_file(uki));
  return check_uki_signature({reinterpret_cast<const std::uint8_t*>(image.data()), image.size()},
                             cert.get(), uki.string());
}

}  // namespace cairn
