#include "attest/host/tpm_context.hpp"

#include <tss2/tss2_rc.h>

#include <cstdio>

namespace cairn::attest::host {

std::unexpected<Error> fail_tpm(std::string_view what, TSS2_RC rc) {
  char code[16];
  std::snprintf(code, sizeof code, "0x%x", rc);
  return fail(Errc::io, std::string(what) + ": " + Tss2_RC_Decode(rc) + " (" + code + ")");
}

Expected<TpmContext> TpmContext::open(std::string_view tcti) {
  TpmContext context;
  context.tcti_ = std::string(tcti);
  TSS2_TCTI_CONTEXT* raw_tcti = nullptr;
  TSS2_RC rc = Tss2_TctiLdr_Initialize(context.tcti_.c_str(), &raw_tcti);
  if (rc != TSS2_RC_SUCCESS) {
    return fail(Errc::unavailable,
                "cannot open the TPM through TCTI '" + context.tcti_ + "': " + Tss2_RC_Decode(rc));
  }
  context.tcti_context_.reset(raw_tcti);
  ESYS_CONTEXT* raw_esys = nullptr;
  rc = Esys_Initialize(&raw_esys, raw_tcti, nullptr);
  if (rc != TSS2_RC_SUCCESS) {
    return fail(Errc::unavailable,
                "cannot start ESAPI on TCTI '" + context.tcti_ + "': " + Tss2_RC_Decode(rc));
  }
  context.esys_.reset(raw_esys);
  return context;
}

EsysHandle& EsysHandle::operator=(EsysHandle&& other) noexcept {
  if (this != &other) {
    reset();
    esys_ = other.esys_;
    handle_ = std::exchange(other.handle_, ESYS_TR_NONE);
    kind_ = other.kind_;
  }
  return *this;
}

void EsysHandle::reset() {
  if (handle_ == ESYS_TR_NONE || esys_ == nullptr) return;
  // Best effort: a destructor cannot report, and the resource manager (tpmrm0) flushes a
  // closed connection's transient objects anyway.
  if (kind_ == Kind::persistent) {
    Esys_TR_Close(esys_, &handle_);
  } else {
    Esys_FlushContext(esys_, handle_);
  }
  handle_ = ESYS_TR_NONE;
}

}  // namespace cairn::attest::host
