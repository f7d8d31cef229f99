#include "support/wait_until.hpp"

#include <thread>

namespace dr::testing {

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a poll interval, not a guess
  }
  return true;
}

}  // namespace dr::testing
