#include "job_progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <sstream>
#include <thread>
#include <vector>

#include "command.hpp"

namespace dr::cli {
namespace {

using nlohmann::json;

std::string text_of(const json& doc, const char* key, const char* absent = "-") {
  if (!doc.is_object() || !doc.contains(key) || doc[key].is_null()) return absent;
  const json& v = doc[key];
  return v.is_string() ? v.get<std::string>() : v.dump();
}

std::optional<double> time_of(const json& doc, const char* key) {
  if (!doc.is_object() || !doc.contains(key) || !doc[key].is_string()) return std::nullopt;
  return parse_rfc3339(doc[key].get<std::string>());
}

std::string fixed(double value, const char* format) {
  char buf[32];
  std::snprintf(buf, sizeof buf, format, value);
  return buf;
}

// "1.1 s"
std::string seconds(double value) { return fixed(value < 0 ? 0 : value, "%.1f s"); }

// A step's duration: durationMs when the agent gives it, else finishedAt - startedAt.
std::optional<double> step_duration(const json& step) {
  if (step.contains("durationMs") && step["durationMs"].is_number()) {
    return step["durationMs"].get<double>() / 1000.0;
  }
  const auto started = time_of(step, "startedAt");
  const auto finished = time_of(step, "finishedAt");
  if (started && finished) return *finished - *started;
  return std::nullopt;
}

std::string error_text(const json& doc) {
  if (!doc.is_object() || !doc.contains("error") || !doc["error"].is_object()) return {};
  return text_of(doc["error"], "code", "error") + ": " + text_of(doc["error"], "message", "");
}

const json& steps_of(const json& job) {
  static const json kNone = json::array();
  return job.contains("steps") && job["steps"].is_array() ? job["steps"] : kNone;
}

int attempts_of(const json& step) {
  return step.contains("attempts") && step["attempts"].is_number_integer()
             ? step["attempts"].get<int>()
             : 1;
}

std::int64_t seq_of(const json& step, std::int64_t fallback) {
  return step.contains("seq") && step["seq"].is_number_integer() ? step["seq"].get<std::int64_t>()
                                                                 : fallback;
}

// Seconds from the job's creation to `key` of `step` by the agent's clock, else `elapsed`.
double offset(const json& job, const json& step, const char* key, double elapsed) {
  const auto created = time_of(job, "createdAt");
  const auto at = time_of(step, key);
  return created && at ? *at - *created : elapsed;
}

// Cuts `line` to `columns` - 1 characters (counting UTF-8 code points), so it never wraps.
std::string cut(const std::string& line, int columns) {
  if (columns <= 1) return line;
  std::size_t points = 0;
  for (std::size_t i = 0; i < line.size(); ++i) {
    if ((static_cast<unsigned char>(line[i]) & 0xC0) == 0x80) continue;
    if (++points == static_cast<std::size_t>(columns)) return line.substr(0, i);
  }
  return line;
}

}  // namespace

std::optional<double> parse_rfc3339(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  auto digits = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > t.size()) return false;
    out = 0;
    for (std::size_t i = at; i < at + n; ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!digits(0, 4, year) || t.size() < 20 || t[4] != '-' || !digits(5, 2, month) || t[7] != '-' ||
      !digits(8, 2, day) || (t[10] != 'T' && t[10] != 't' && t[10] != ' ') ||
      !digits(11, 2, hour) || t[13] != ':' || !digits(14, 2, minute) || t[16] != ':' ||
      !digits(17, 2, second)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::size_t at = 19;
  double fraction = 0;
  if (at < t.size() && t[at] == '.') {
    double scale = 0.1;
    ++at;
    const std::size_t first = at;
    while (at < t.size() && t[at] >= '0' && t[at] <= '9') {
      fraction += (t[at] - '0') * scale;
      scale /= 10;
      ++at;
    }
    if (at == first) return std::nullopt;
  }
  int zone = 0;
  if (at < t.size() && (t[at] == 'Z' || t[at] == 'z')) {
    ++at;
  } else if (at < t.size() && (t[at] == '+' || t[at] == '-')) {
    int zh, zm;
    if (!digits(at + 1, 2, zh) || at + 3 >= t.size() || t[at + 3] != ':' ||
        !digits(at + 4, 2, zm)) {
      return std::nullopt;
    }
    zone = (t[at] == '+' ? 1 : -1) * (zh * 3600 + zm * 60);
    at += 6;
  } else {
    return std::nullopt;
  }
  if (at != t.size()) return std::nullopt;
  // Days from the civil date (Howard Hinnant's days_from_civil).
  const int y = year - (month <= 2 ? 1 : 0);
  const int era = y / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const long long days = static_cast<long long>(era) * 146097 + doe - 719468;
  return static_cast<double>(days * 86400 + hour * 3600 + minute * 60 + second - zone) + fraction;
}

bool job_finished(const json& job) {
  const std::string state = text_of(job, "state");
  return state != "pending" && state != "running";
}

void JobProgress::update(const json& job, double elapsed, std::ostream& out) {
  if (tty_) {
    update_tty(job, elapsed, out);
  } else {
    update_lines(job, elapsed, out);
  }
  out.flush();
}

void JobProgress::update_lines(const json& job, double elapsed, std::ostream& out) {
  if (!header_shown_) {
    out << "job " << text_of(job, "id") << ": " << text_of(job, "type") << " of "
        << text_of(job, "app") << '\n';
    header_shown_ = true;
  }
  std::int64_t index = 0;
  for (const json& step : steps_of(job)) {
    const std::int64_t seq = seq_of(step, ++index);
    const std::string state = text_of(step, "state");
    auto [it, added] = step_states_.try_emplace(seq, state);
    if (!added && it->second == state) continue;
    it->second = state;
    const bool finished = state != "intent_recorded";
    const double at = offset(job, step, finished ? "finishedAt" : "startedAt", elapsed);
    out << fixed(at < 0 ? 0 : at, "%6.1fs") << "  " << text_of(step, "name") << "  "
        << (finished ? state : "started");
    if (finished) {
      const auto duration = step_duration(step);
      const auto attempts = attempts_of(step);
      if (duration || attempts > 1) {
        out << "  (" << (duration ? seconds(*duration) : "")
            << (duration && attempts > 1 ? ", " : "")
            << (attempts > 1 ? std::to_string(attempts) + " attempts" : "") << ')';
      }
    }
    if (const std::string e = error_text(step); !e.empty()) out << "  " << e;
    out << '\n';
  }
}

void JobProgress::update_tty(const json& job, double elapsed, std::ostream& out) {
  constexpr const char* kGreen = "\x1b[32m";
  constexpr const char* kRed = "\x1b[31m";
  constexpr const char* kYellow = "\x1b[33m";
  constexpr const char* kBold = "\x1b[1m";
  constexpr const char* kReset = "\x1b[0m";

  const auto created = time_of(job, "createdAt");
  const auto updated = time_of(job, "updatedAt");
  const double job_time = job_finished(job) && created && updated ? *updated - *created : elapsed;

  struct Line {
    std::string text, colour;
  };
  std::vector<Line> lines;
  lines.push_back({"job " + text_of(job, "id") + "  " + text_of(job, "type") + "  " +
                       text_of(job, "app") + "  " + text_of(job, "state") + "  " +
                       seconds(job_time),
                   kBold});
  std::size_t width = 0;
  for (const json& step : steps_of(job)) width = std::max(width, text_of(step, "name").size());
  for (const json& step : steps_of(job)) {
    const std::string state = text_of(step, "state");
    std::string name = text_of(step, "name");
    name.resize(width, ' ');
    Line line;
    if (state == "done") {
      line = {"  done     " + name, kGreen};
    } else if (state == "failed") {
      line = {"  FAILED   " + name, kRed};
    } else {
      line = {"  running  " + name, kYellow};
    }
    if (state != "intent_recorded") {
      if (const auto d = step_duration(step)) line.text += "  " + seconds(*d);
    }
    const auto attempts = attempts_of(step);
    if (attempts > 1) line.text += "  (" + std::to_string(attempts) + " attempts)";
    if (const std::string e = error_text(step); !e.empty()) line.text += "  " + e;
    lines.push_back(std::move(line));
  }

  std::ostringstream frame;
  if (lines_drawn_ > 0) frame << "\x1b[" << lines_drawn_ << "F\x1b[J";  // up, then clear below
  for (const Line& line : lines) {
    frame << line.colour << cut(line.text, columns_) << kReset << '\n';
  }
  lines_drawn_ = static_cast<int>(lines.size());
  out << frame.str();
}

std::string JobProgress::summary(const json& job, double elapsed) {
  const auto created = time_of(job, "createdAt");
  const auto updated = time_of(job, "updatedAt");
  const double took = created && updated ? *updated - *created : elapsed;
  std::string line =
      "job " + text_of(job, "id") + " " + text_of(job, "state") + " in " + seconds(took);
  if (const std::string e = error_text(job); !e.empty()) line += ": " + e;
  return line;
}

int follow_job(AgentClient& client, std::int64_t id, const FollowOptions& options,
               std::ostream& out, std::ostream& err, std::string* final_body) {
  using Clock = std::chrono::steady_clock;
  JobProgress progress(options.tty, options.columns);
  const auto start = Clock::now();
  std::optional<Clock::time_point> unreachable_since;
  const std::string path = "/v1/jobs/" + std::to_string(id);
  for (;;) {
    auto job = client.get(path);
    const auto now = Clock::now();
    const double elapsed = std::chrono::duration<double>(now - start).count();
    if (!job) {
      const AgentError& e = job.error();
      const bool transient =
          !e.answered && (e.code == "unavailable" || e.code == "deadline_exceeded");
      if (!transient) return report(e, err);
      // The agent may be restarting in the middle of a long job: keep asking for a while.
      if (!unreachable_since) {
        unreachable_since = now;
        err << "drpair: " << e.message << " (still trying)\n";
      } else if (now - *unreachable_since >= options.unreachable_limit) {
        return report(e, err);
      }
      std::this_thread::sleep_for(options.interval);  // the poll interval, not a wait for a race
      continue;
    }
    unreachable_since.reset();
    const json& doc = job->json;
    progress.update(doc, elapsed, out);
    if (job_finished(doc)) {
      out << JobProgress::summary(doc, elapsed) << '\n' << std::flush;
      if (final_body != nullptr) *final_body = job->body;
      return text_of(doc, "state") == "succeeded" ? kExitOk : kExitNo;
    }
    std::this_thread::sleep_for(options.interval);
  }
}

int terminal_columns(int fd) {
  winsize size{};
  if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 0;
}

}  // namespace dr::cli
