#pragma once
// CPU seconds (user + system) a Ceph pair's rbd-mirror daemon has used, for the storage benches'
// cost figures: read from /proc through the PID file deploy/ceph-pair.sh writes under
// DIR/SITE/run/. 0 when the daemon is not running.

#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

namespace dr::bench {

inline double mirror_cpu_seconds(const std::string& dir, const std::string& site) {
  std::ifstream pid_file(dir + "/" + site + "/run/client.rbd-mirror." + site + ".pid");
  int pid = 0;
  if (!(pid_file >> pid)) return 0;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::vector<std::string> fields;
  std::string f;
  for (std::size_t i = close + 2; i <= line.size(); ++i) {
    if (i == line.size() || line[i] == ' ') {
      fields.push_back(f);
      f.clear();
    } else {
      f += line[i];
    }
  }
  // After the command name: state is field 0, utime 11, stime 12 (clock ticks).
  if (fields.size() < 13) return 0;
  return (std::stod(fields[11]) + std::stod(fields[12])) /
         static_cast<double>(sysconf(_SC_CLK_TCK));
}

}  // namespace dr::bench
