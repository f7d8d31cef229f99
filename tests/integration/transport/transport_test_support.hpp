#pragma once
// Throwaway PKI for the transport tests, made once per test process by deploy/pki/make-pki.sh in
// a private temporary folder (kept when DR_TEST_NOCLEANUP is set), and a bounded wait for
// conditions other threads make true.

#include <chrono>
#include <functional>
#include <string>

namespace dr::testing {

// The folder make-pki.sh filled (sites site-a and site-b, operator "ops"); made on first use.
// file("site-a/agent.crt") is a path inside it.
class TestPki {
 public:
  static const TestPki& get();
  std::string file(const std::string& relative) const { return dir_ + "/" + relative; }
  ~TestPki();

 private:
  TestPki();
  std::string dir_;
};

// Polls `condition` until it holds or `limit` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(5));

}  // namespace dr::testing
