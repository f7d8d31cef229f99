#pragma once
// Throwaway PKI for tests and benchmarks: deploy/pki/make-pki.sh run once per process in a private
// temporary folder (sites site-a and site-b, operator "ops", and the bad certificates of
// DIR/test/), removed at exit unless DR_TEST_NOCLEANUP is set.

#include <string>

#include "support/temp_dir.hpp"

namespace dr::testing {

class TestPki {
 public:
  // Made on first use; throws std::runtime_error if make-pki.sh fails.
  static const TestPki& get();
  // A path inside the folder: file("site-a/agent.crt"); file("") is the folder itself.
  std::string file(const std::string& relative) const { return dir_.file(relative); }

 private:
  TestPki();
  TempDir dir_;
};

}  // namespace dr::testing
