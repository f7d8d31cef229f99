#include "support/test_pki.hpp"

#include <stdexcept>

#include "support/process.hpp"

namespace dr::testing {

TestPki::TestPki() {
  const auto made =
      run_process({std::string(DR_SOURCE_DIR) + "/deploy/pki/make-pki.sh", dir_.path()});
  if (made.exit_code != 0) throw std::runtime_error("make-pki.sh failed: " + made.err + made.out);
}

const TestPki& TestPki::get() {
  static const TestPki pki;
  return pki;
}

}  // namespace dr::testing
