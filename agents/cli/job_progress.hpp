#pragma once
// `--wait` and `--follow`: a job's progress as the agent reports it (GET /v1/jobs/{id}, the Job
// shape of /work/spec/api.md), shown live until the job ends.
//
// On a terminal the job and its step list are redrawn in place (ANSI cursor movement), one line
// per step. Anywhere else (a pipe, a log file, CI) one line is printed per step state change:
//
//     job 7: failover_disaster of app1
//        0.0s  fence  done  (0.0 s)
//       12.4s  promote:rbd/app1-web1-root  done  (1.1 s)
//     job 7 succeeded in 23.5 s
//
// Times are the agent's (a step's startedAt/finishedAt minus the job's createdAt), so they say
// the same whoever follows and from when; the CLI's own clock is only the fallback when the agent
// leaves a time out.
//
// Thread-safety: one JobProgress per display, used from one thread.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "agent_client.hpp"

namespace dr::cli {

// Seconds since the Unix epoch of an RFC 3339 time ("2026-11-25T10:00:00.123Z", or with a
// +HH:MM / -HH:MM offset); nullopt if it is not one.
std::optional<double> parse_rfc3339(std::string_view text);

// "pending" and "running" are not terminal; "succeeded", "failed", "cancelled" (and any state
// this CLI does not know) are.
bool job_finished(const nlohmann::json& job);

class JobProgress {
 public:
  // `columns`: the terminal's width (lines are cut to it so redrawing stays in step); 0 = no
  // limit.
  JobProgress(bool tty, int columns) : tty_(tty), columns_(columns) {}

  // Shows the job as of this poll; `elapsed` is the seconds since following began.
  void update(const nlohmann::json& job, double elapsed, std::ostream& out);

  // "job 7 succeeded in 23.5 s", "job 7 failed in 3.2 s: unavailable: ...".
  static std::string summary(const nlohmann::json& job, double elapsed);

 private:
  void update_lines(const nlohmann::json& job, double elapsed, std::ostream& out);
  void update_tty(const nlohmann::json& job, double elapsed, std::ostream& out);

  bool tty_;
  int columns_;
  bool header_shown_ = false;
  std::map<std::int64_t, std::string> step_states_;  // seq -> state last shown (line mode)
  int lines_drawn_ = 0;                              // lines of the last frame (tty mode)
};

struct FollowOptions {
  bool tty = false;
  int columns = 0;
  std::chrono::milliseconds interval{500};
  // How long the agent may stay unreachable (it may be restarting) before following gives up.
  std::chrono::seconds unreachable_limit{60};
};

// Polls GET /v1/jobs/{id} until the job ends, showing progress on `out` and the summary line
// last; errors go to `err`. Returns kExitOk when the job succeeded, kExitNo when it failed or was
// cancelled or could not be followed. `final_body` (optional) receives the finished Job's body as
// the agent sent it.
int follow_job(AgentClient& client, std::int64_t id, const FollowOptions& options,
               std::ostream& out, std::ostream& err, std::string* final_body = nullptr);

// The width of the terminal on file descriptor `fd`; 0 when unknown.
int terminal_columns(int fd);

}  // namespace dr::cli
