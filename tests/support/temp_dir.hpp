#pragma once
// A private temporary folder for a test, removed with everything in it (kept when the environment
// sets DR_TEST_NOCLEANUP, to look at what a test left).

#include <string>

namespace dr::testing {

// A new folder under $TMPDIR (or /tmp), removed when this goes out of scope.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace dr::testing
