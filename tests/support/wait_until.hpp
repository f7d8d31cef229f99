#pragma once
// A bounded wait for conditions other threads make true.

#include <chrono>
#include <functional>

namespace dr::testing {

// Polls `condition` until it holds or `limit` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(5));

}  // namespace dr::testing
