#pragma once
// Instants as drpair writes them in JSON: RFC 3339, UTC, milliseconds ("2026-12-07T08:01:02.345Z").

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace dr {

inline std::string format_time(std::chrono::sys_time<std::chrono::milliseconds> t) {
  const auto ms = t.time_since_epoch().count();
  const auto floor_div = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
  const std::time_t secs = static_cast<std::time_t>(floor_div);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(((ms % 1000) + 1000) % 1000));
  return buf;
}

inline std::string format_time(std::chrono::system_clock::time_point t) {
  return format_time(std::chrono::time_point_cast<std::chrono::milliseconds>(t));
}

}  // namespace dr
