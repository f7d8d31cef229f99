#include "transport_test_support.hpp"

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "support/process.hpp"

namespace dr::testing {

TestPki::TestPki() {
  std::string templ = (std::filesystem::temp_directory_path() / "drpair-pki-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  const auto made = run_process({std::string(DR_SOURCE_DIR) + "/deploy/pki/make-pki.sh", dir_});
  if (made.exit_code != 0) {
    throw std::runtime_error("make-pki.sh failed: " + made.err + made.out);
  }
}

TestPki::~TestPki() {
  if (std::getenv("DR_TEST_NOCLEANUP") == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

const TestPki& TestPki::get() {
  static const TestPki pki;
  return pki;
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // a poll interval, not a guess
  }
  return true;
}

}  // namespace dr::testing
