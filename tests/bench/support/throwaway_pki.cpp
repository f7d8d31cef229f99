#include "throwaway_pki.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace dr::bench {

ThrowawayPki::ThrowawayPki() {
  dir_ = (std::filesystem::temp_directory_path() / "drpair-bench-XXXXXX").string();
  if (mkdtemp(dir_.data()) == nullptr) {
    std::perror("mkdtemp");
    std::exit(1);
  }
  const std::string make =
      std::string(DR_SOURCE_DIR) + "/deploy/pki/make-pki.sh " + dir_ + " >/dev/null";
  if (std::system(make.c_str()) != 0) {
    std::fprintf(stderr, "deploy/pki/make-pki.sh %s failed\n", dir_.c_str());
    std::exit(1);
  }
}

ThrowawayPki::~ThrowawayPki() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

}  // namespace dr::bench
