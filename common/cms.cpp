#include "common/cms.hpp"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/pki.hpp"

namespace cairn {

namespace fs = std::filesystem;

namespace {

BioPtr memory_bio(std::string_view data) {
  return BioPtr(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

std::optional<std::time_t> asn1_time_t(const ASN1_TIME* time) {
  std::tm tm{};
  if (!time || ASN1_TIME_to_tm(time, &tm) != 1) return std::nullopt;
  return ::timegm(&tm);
}

// When every certificate of `chain` is valid at once; nothing when a time cannot be read (the
// signature is then simply not remembered).
std::optional<std::pair<std::time_t, std::time_t>> validity_window(STACK_OF(X509) * chain) {
  if (!chain || sk_X509_num(chain) == 0) return std::nullopt;
  std::pair<std::time_t, std::time_t> window{std::numeric_limits<std::time_t>::min(),
                                             std::numeric_limits<std::time_t>::max()};
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    auto from = asn1_time_t(X509_get0_notBefore(cert));
    auto until = asn1_time_t(X509_get0_notAfter(cert));
    if (!from || !until) return std::nullopt;
    window.first = std::max(window.first, *from);
    window.second = std::min(window.second, *until);
  }
  return window;
}

}  // namespace

Expected<CmsSigner> CmsSigner::load(const fs::path& key, const fs::path& cert,
                                    const fs::path& chain) {
  CmsSigner signer;
  signer.key_ = CAIRN_TRY(read_private_key_pem(key));
  signer.cert_ = CAIRN_TRY(read_certificate_pem(cert));
  if (X509_check_private_key(signer.cert_.get(), signer.key_.get()) != 1) {
    return fail_openssl(Errc::crypto, key.string() + " does not belong to " + cert.string());
  }
  signer.chain_.reset(sk_X509_new_null());
  if (!chain.empty()) {
    for (auto& extra : CAIRN_TRY(read_certificates_pem(chain))) {
      sk_X509_push(signer.chain_.get(), extra.release());
    }
  }
  return signer;
}

Expected<std::string> CmsSigner::sign(std::string_view data) {
  auto in = memory_bio(data);
  CmsPtr cms(CMS_sign(cert_.get(), key_.get(), chain_.get(), in.get(),
                      CMS_DETACHED | CMS_BINARY | CMS_NOATTR | CMS_NOSMIMECAP));
  if (!cms) return fail_openssl(Errc::crypto, "CMS signing");
  BioPtr out(BIO_new(BIO_s_mem()));
  if (i2d_CMS_bio(out.get(), cms.get()) != 1) return fail_openssl(Errc::crypto, "encoding CMS");
  char* bytes = nullptr;
  long size = BIO_get_mem_data(out.get(), &bytes);
  return std::string(bytes, static_cast<std::size_t>(size));
}

Expected<CmsVerifier> CmsVerifier::load(const fs::path& anchors) {
  CmsVerifier verifier;
  std::vector<fs::path> files;
  std::error_code ec;
  if (fs::is_directory(anchors, ec)) {
    for (const auto& entry : fs::directory_iterator(anchors, ec)) {
      auto ext = entry.path().extension();
      if (ext == ".crt" || ext == ".pem") files.push_back(entry.path());
    }
  } else if (fs::exists(anchors, ec)) {
    files.push_back(anchors);
  }
  if (files.empty()) {
    return fail(Errc::not_found, "no trust anchors (*.crt, *.pem) in " + anchors.string());
  }
  for (const auto& file : files) {
    for (auto& cert : CAIRN_TRY(read_certificates_pem(file))) {
      verifier.anchors_.push_back(std::move(cert));
    }
  }
  return verifier;
}

Expected<SignerIdentity> CmsVerifier::verify(std::string_view data, std::string_view signature) {
  std::time_t now =
      std::chrono::system_clock::to_time_t(time_.value_or(std::chrono::system_clock::now()));
  if (last_ && last_->signature == signature && now >= last_->valid_from &&
      now <= last_->valid_until && last_->data == sha256(data)) {
    return last_->identity;
  }
  last_.reset();
  return verify_anew(data, signature, now);
}

Expected<SignerIdentity> CmsVerifier::verify_anew(std::string_view data, std::string_view signature,
                                                  std::time_t now) {
  auto sig_bio = memory_bio(signature);
  CmsPtr cms(d2i_CMS_bio(sig_bio.get(), nullptr));
  if (!cms) return fail_openssl(Errc::integrity, "not a DER CMS signature");

  // 1. Is the signature over this data? (Chain checked separately for a precise reason.)
  // Through a buffer BIO rather than the memory BIO itself: given a memory BIO, OpenSSL 3.0's
  // CMS_verify copies it into a new one and leaks that copy whenever the SignedData's digests
  // cannot be set up (an empty digestAlgorithms, say) — memory an attacker's signature takes on
  // every try (found by tests/fuzz; openssl/openssl#30471).
  BioPtr data_bio(BIO_new(BIO_f_buffer()));
  if (!data_bio) return fail_openssl(Errc::internal, "BIO_new");
  BIO_push(data_bio.get(), memory_bio(data).release());
  if (CMS_verify(cms.get(), nullptr, nullptr, data_bio.get(), nullptr,
                 CMS_BINARY | CMS_NO_SIGNER_CERT_VERIFY) != 1) {
    return fail_openssl(Errc::integrity, "signature does not match the signed data");
  }
  // The signers are the CMS's own certificates, on every path: freeing them with the stack (an
  // X509StackPtr) freed them a second time whenever there was not exactly one.
  BorrowedX509StackPtr signers(CMS_get0_signers(cms.get()));
  if (!signers || sk_X509_num(signers.get()) != 1) {
    return fail(Errc::integrity, "expected exactly one signer");
  }
  X509* signer = sk_X509_value(signers.get(), 0);

  // 2. Does the signer chain to a trust anchor, and is everything valid at the given time?
  X509StorePtr store(X509_STORE_new());
  for (const auto& anchor : anchors_) X509_STORE_add_cert(store.get(), anchor.get());
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  STACK_OF(X509)* embedded = CMS_get1_certs(cms.get());
  X509StackPtr embedded_owner(embedded);
  X509_STORE_CTX_init(ctx.get(), store.get(), signer, embedded);
  X509_STORE_CTX_set_time(ctx.get(), 0, now);
  if (X509_verify_cert(ctx.get()) != 1) {
    int err = X509_STORE_CTX_get_error(ctx.get());
    std::string subject = certificate_subject(signer);
    if (err == X509_V_ERR_CERT_HAS_EXPIRED) {
      return fail(Errc::crypto, "signer certificate " + subject + " has expired");
    }
    if (err == X509_V_ERR_CERT_NOT_YET_VALID) {
      return fail(Errc::crypto, "signer certificate " + subject + " is not valid yet");
    }
    return fail(Errc::crypto,
                "signer " + subject + " is not trusted: " + X509_verify_cert_error_string(err));
  }
  char issuer[512];
  X509_NAME_oneline(X509_get_issuer_name(signer), issuer, sizeof issuer);
  SignerIdentity identity{.subject = certificate_subject(signer), .issuer = issuer};
  if (auto window = validity_window(X509_STORE_CTX_get0_chain(ctx.get()))) {
    last_ = Verified{.data = sha256(data),
                     .signature = std::string(signature),
                     .identity = identity,
                     .valid_from = window->first,
                     .valid_until = window->second};
  }
  return identity;
}

}  // namespace cairn
