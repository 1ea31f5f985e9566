// Owning pointers for OpenSSL objects, and OpenSSL's error queue as a cairn::Error.
#pragma once

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

#include "common/error.hpp"

namespace cairn {

template <auto Free>
struct OpensslDeleter {
  template <class T>
  void operator()(T* pointer) const {
    Free(pointer);
  }
};

using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OpensslDeleter<EVP_MD_CTX_free>>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OpensslDeleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OpensslDeleter<EVP_PKEY_CTX_free>>;
using X509Ptr = std::unique_ptr<X509, OpensslDeleter<X509_free>>;
using X509StorePtr = std::unique_ptr<X509_STORE, OpensslDeleter<X509_STORE_free>>;
using X509StoreCtxPtr = std::unique_ptr<X509_STORE_CTX, OpensslDeleter<X509_STORE_CTX_free>>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, OpensslDeleter<X509_EXTENSION_free>>;
using BioPtr = std::unique_ptr<BIO, OpensslDeleter<BIO_free_all>>;
using CmsPtr = std::unique_ptr<CMS_ContentInfo, OpensslDeleter<CMS_ContentInfo_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OpensslDeleter<BN_free>>;

inline void free_x509_stack(STACK_OF(X509) * stack) { sk_X509_pop_free(stack, X509_free); }
using X509StackPtr = std::unique_ptr<STACK_OF(X509), OpensslDeleter<free_x509_stack>>;
// A stack of certificates that belong to someone else (CMS_get0_signers, PKCS7_get0_signers):
// only the stack is freed.
inline void free_borrowed_x509_stack(STACK_OF(X509) * stack) { sk_X509_free(stack); }
using BorrowedX509StackPtr =
    std::unique_ptr<STACK_OF(X509), OpensslDeleter<free_borrowed_x509_stack>>;

// Drains OpenSSL's error queue into one message: "<what>: <reason>; <reason>".
inline std::unexpected<Error> fail_openssl(Errc code, std::string what) {
  std::string reasons;
  while (unsigned long err = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(err, buffer, sizeof buffer);
    if (!reasons.empty()) reasons += "; ";
    reasons += buffer;
  }
  if (!reasons.empty()) what += ": " + reasons;
  return fail(code, std::move(what));
}

}  // namespace cairn
