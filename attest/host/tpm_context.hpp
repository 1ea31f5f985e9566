// An open TPM: the TCTI (device, swtpm, mssim… chosen by a tctildr config string) and the ESAPI
// context over it, plus owning wrappers for what ESAPI hands out (object and session handles,
// Esys_Malloc'ed results), so no path through the host agent leaks a TPM slot or a buffer.
#pragma once

#include <tss2/tss2_esys.h>
#include <tss2/tss2_tctildr.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace cairn::attest::host {

using Bytes = std::vector<std::uint8_t>;

inline constexpr std::string_view kDefaultTcti = "device:/dev/tpmrm0";

// A result buffer ESAPI allocated (TPM2B_PUBLIC*, TPMT_SIGNATURE*, …), released with Esys_Free.
struct EsysFree {
  void operator()(void* pointer) const { Esys_Free(pointer); }
};
template <class T>
using EsysPtr = std::unique_ptr<T, EsysFree>;

// "<what>: <decoded response code> (0x…)", Errc::io: the TPM answered, but not with success.
std::unexpected<Error> fail_tpm(std::string_view what, TSS2_RC rc);

class TpmContext {
 public:
  // Opens `tcti` ("device:/dev/tpmrm0", "swtpm:host=127.0.0.1,port=2321") and starts ESAPI.
  // Errc::unavailable naming the TCTI when it cannot be reached.
  static Expected<TpmContext> open(std::string_view tcti);

  ESYS_CONTEXT* esys() const { return esys_.get(); }
  const std::string& tcti_name() const { return tcti_; }

 private:
  struct TctiDeleter {
    void operator()(TSS2_TCTI_CONTEXT* tcti) const { Tss2_TctiLdr_Finalize(&tcti); }
  };
  struct EsysDeleter {
    void operator()(ESYS_CONTEXT* esys) const { Esys_Finalize(&esys); }
  };
  std::string tcti_;
  // Declared first so it is destroyed last: ESAPI still talks through the TCTI while finalizing.
  std::unique_ptr<TSS2_TCTI_CONTEXT, TctiDeleter> tcti_context_;
  std::unique_ptr<ESYS_CONTEXT, EsysDeleter> esys_;
};

// An ESYS_TR the agent owns. Transient objects and sessions are flushed from the TPM when it
// dies; persistent objects and NV indexes are only closed (their TPM state must stay).
class EsysHandle {
 public:
  enum class Kind { transient, persistent };
  EsysHandle() = default;
  EsysHandle(ESYS_CONTEXT* esys, ESYS_TR handle, Kind kind)
      : esys_(esys), handle_(handle), kind_(kind) {}
  EsysHandle(EsysHandle&& other) noexcept
      : esys_(other.esys_),
        handle_(std::exchange(other.handle_, ESYS_TR_NONE)),
        kind_(other.kind_) {}
  EsysHandle& operator=(EsysHandle&& other) noexcept;
  EsysHandle(const EsysHandle&) = delete;
  EsysHandle& operator=(const EsysHandle&) = delete;
  ~EsysHandle() { reset(); }

  ESYS_TR get() const { return handle_; }
  bool persistent() const { return kind_ == Kind::persistent; }
  // Gives up ownership (EvictControl turned a transient object into a persistent one).
  ESYS_TR release() { return std::exchange(handle_, ESYS_TR_NONE); }
  void reset();

 private:
  ESYS_CONTEXT* esys_ = nullptr;
  ESYS_TR handle_ = ESYS_TR_NONE;
  Kind kind_ = Kind::transient;
};

// Copies a TPM2B-style byte buffer into a std::vector.
inline Bytes to_bytes(const std::uint8_t* data, std::size_t size) {
  return Bytes(data, data + size);
}

}  // namespace cairn::attest::host
