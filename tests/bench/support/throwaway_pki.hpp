#pragma once
// A throwaway PKI for a benchmark: deploy/pki/make-pki.sh run in a new temporary folder (sites
// site-a and site-b, operator "ops"), removed when the object goes.

#include <string>

namespace dr::bench {

class ThrowawayPki {
 public:
  // Exits the process with a message if make-pki.sh fails (a benchmark cannot go on without it).
  ThrowawayPki();
  ~ThrowawayPki();
  ThrowawayPki(const ThrowawayPki&) = delete;
  ThrowawayPki& operator=(const ThrowawayPki&) = delete;

  std::string file(const std::string& relative) const { return dir_ + "/" + relative; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

}  // namespace dr::bench
