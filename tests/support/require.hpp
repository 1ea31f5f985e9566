// Catch2 glue: unwrap an Expected or fail the test with its error.
#pragma once

#include <catch2/catch.hpp>
#include <utility>

#include "common/error.hpp"

namespace cairn::testing {

template <class T>
T require(Expected<T> result) {
  if (!result) FAIL(result.error().describe());
  return std::move(*result);
}

inline void require(Status status) {
  if (!status) FAIL(status.error().describe());
}

}  // namespace cairn::testing
