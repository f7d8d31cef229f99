#pragma once
// The one place that knows librados/librbd's negative errno returns (dr_storage_rbd only).

#include <string>

#include "core/result.hpp"

namespace dr::storage {

// Maps a negative errno from librados/librbd to an Error whose message is
// "<what>: <strerror>" (what names the object and the operation).
Error from_errno(int r, const std::string& what);

}  // namespace dr::storage
