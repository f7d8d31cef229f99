#include "workflow/steps.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "model/json_reader.hpp"

namespace dr::workflow {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

// ---- StoreJournal

namespace {

StepRecord record_of(const state::JobStep& s) {
  auto detail = model::parse_json(s.detail_json);
  return StepRecord{s.name, s.state, s.attempts, detail ? std::move(*detail) : json::object(),
                    s.error};
}

}  // namespace

Result<std::optional<StepRecord>> StoreJournal::find(std::string_view step) {
  auto steps = store_.steps(job_);
  if (!steps) return steps.error();
  for (const auto& s : *steps) {
    if (s.name == step) return std::optional<StepRecord>(record_of(s));
  }
  return std::optional<StepRecord>();
}

Status StoreJournal::record_intent(std::string_view step) {
  auto r = store_.record_step_intent(job_, step);
  if (!r) return r.error();
  return {};
}

Status StoreJournal::record_done(std::string_view step, const json& detail) {
  auto r = store_.record_step_done(job_, step, detail.is_null() ? "{}" : detail.dump());
  if (!r) return r.error();
  return {};
}

Status StoreJournal::record_failed(std::string_view step, const Error& error) {
  auto r = store_.record_step_failed(job_, step, error, "{}");
  if (!r) return r.error();
  return {};
}

Result<std::vector<StepRecord>> StoreJournal::entries() {
  auto steps = store_.steps(job_);
  if (!steps) return steps.error();
  std::vector<StepRecord> out;
  out.reserve(steps->size());
  for (const auto& s : *steps) out.push_back(record_of(s));
  return out;
}

// ---- MemoryJournal

StepRecord* MemoryJournal::locked_find(std::string_view step) {
  for (auto& e : entries_) {
    if (e.name == step) return &e;
  }
  return nullptr;
}

Result<std::optional<StepRecord>> MemoryJournal::find(std::string_view step) {
  std::lock_guard lock(mutex_);
  const StepRecord* e = locked_find(step);
  return e != nullptr ? std::optional<StepRecord>(*e) : std::nullopt;
}

Status MemoryJournal::record_intent(std::string_view step) {
  std::lock_guard lock(mutex_);
  StepRecord* e = locked_find(step);
  if (e == nullptr) {
    StepRecord fresh;
    fresh.name = std::string(step);
    entries_.push_back(std::move(fresh));
    e = &entries_.back();
  } else if (e->state == state::StepState::done) {
    return fail(Errc::already_exists, "step '" + std::string(step) + "' is done");
  }
  e->state = state::StepState::intent_recorded;
  ++e->attempts;
  return persist(entries_);
}

Status MemoryJournal::record_done(std::string_view step, const json& detail) {
  std::lock_guard lock(mutex_);
  StepRecord* e = locked_find(step);
  if (e == nullptr || e->state != state::StepState::intent_recorded) {
    return fail(Errc::failed_precondition,
                "step '" + std::string(step) + "' has no intent recorded");
  }
  e->state = state::StepState::done;
  e->detail = detail.is_null() ? json::object() : detail;
  e->error.reset();
  return persist(entries_);
}

Status MemoryJournal::record_failed(std::string_view step, const Error& error) {
  std::lock_guard lock(mutex_);
  StepRecord* e = locked_find(step);
  if (e == nullptr || e->state != state::StepState::intent_recorded) {
    return fail(Errc::failed_precondition,
                "step '" + std::string(step) + "' has no intent recorded");
  }
  e->state = state::StepState::failed;
  e->error = error;
  return persist(entries_);
}

Result<std::vector<StepRecord>> MemoryJournal::entries() {
  std::lock_guard lock(mutex_);
  return entries_;
}

Status MemoryJournal::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  return persist(entries_);
}

// ---- FileJournal: {"steps": [{"step", "state", "attempts", "detail", "error"?}]}

namespace {

// The file's spelling of a step state (the state store's names read differently in a file
// operators look at).
const char* file_state(state::StepState s) {
  switch (s) {
    case state::StepState::intent_recorded:
      return "intent";
    case state::StepState::done:
      return "done";
    case state::StepState::failed:
      return "failed";
  }
  return "intent";
}

}  // namespace

Result<std::unique_ptr<FileJournal>> FileJournal::open(std::string path) {
  std::unique_ptr<FileJournal> journal(new FileJournal(path));
  std::ifstream in(path);
  if (!in) return journal;  // a new journal; created on the first record
  std::stringstream text;
  text << in.rdbuf();
  const auto not_journal = [&](const std::string& why) {
    return fail(Errc::invalid_argument, "restore journal '" + path + "' is not a journal: " + why);
  };
  auto doc = model::parse_json(text.str());
  if (!doc) return not_journal(doc.error().front().message);
  model::JsonReader r;
  const json* steps =
      r.object(*doc, "", {"steps"}) ? r.array_member(*doc, "", "steps", true) : nullptr;
  for (std::size_t i = 0; steps != nullptr && i < steps->size(); ++i) {
    const json& item = (*steps)[i];
    const std::string at = model::pointer_append("/steps", i);
    if (!r.object(item, at, {"step", "state", "attempts", "detail", "error"})) continue;
    StepRecord e;
    e.name = r.string(item, at, "step");
    e.state = r.enumeration(item, at, "state",
                            {{"intent", state::StepState::intent_recorded},
                             {"done", state::StepState::done},
                             {"failed", state::StepState::failed}},
                            state::StepState::intent_recorded, true);
    e.attempts = static_cast<int>(r.opt_integer(item, at, "attempts", 0, 1'000'000).value_or(0));
    if (const json* detail = r.member(item, at, "detail", false)) e.detail = *detail;
    if (auto error = r.opt_string(item, at, "error")) e.error = fail(Errc::internal, *error);
    journal->entries_.push_back(std::move(e));
  }
  if (!r.ok()) return not_journal(model::format(r.problems.front()));
  return journal;
}

Status FileJournal::persist(const std::vector<StepRecord>& entries) {
  json steps = json::array();
  for (const auto& e : entries) {
    json j{{"step", e.name}, {"state", file_state(e.state)}, {"attempts", e.attempts},
           {"detail", e.detail}};
    if (e.error) j["error"] = std::string(to_string(e.error->code)) + ": " + e.error->message;
    steps.push_back(std::move(j));
  }
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << json{{"steps", steps}}.dump(2) << '\n';
    out.flush();
    if (!out) return fail(Errc::unavailable, "cannot write restore journal '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    return fail(Errc::unavailable, "cannot write restore journal '" + path_ + "'");
  }
  return {};
}

// ---- Steps

struct Steps::Log {
  std::mutex mutex;
  std::vector<StepTiming> timings;
  std::optional<StepFailure> failure;
};

Steps::Steps(Journal& journal, std::stop_token stop, std::string prefix)
    : Steps(journal, std::move(stop), std::move(prefix), std::make_shared<Log>()) {}

Steps::Steps(Journal& journal, std::stop_token stop, std::string prefix, std::shared_ptr<Log> log)
    : journal_(journal), stop_(std::move(stop)), prefix_(std::move(prefix)), log_(std::move(log)) {}

Steps Steps::within(std::string_view prefix) const {
  return Steps(journal_, stop_, prefix_ + std::string(prefix), std::make_shared<Log>());
}

std::vector<StepTiming> Steps::timings() const {
  std::lock_guard lock(log_->mutex);
  return log_->timings;
}

std::optional<StepFailure> Steps::first_failure() const {
  std::lock_guard lock(log_->mutex);
  return log_->failure;
}

Result<json> Steps::run(std::string_view step,
                        const std::function<Result<json>()>& action) {
  const std::string name = prefix_ + std::string(step);
  const auto start = Clock::now();
  const auto finish = [&](bool skipped, const Error* error) {
    std::lock_guard lock(log_->mutex);
    log_->timings.push_back(
        {std::string(step),
         std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start), skipped});
    if (error != nullptr && !log_->failure) log_->failure = StepFailure{std::string(step), *error};
  };
  const auto failed = [&](Error e) -> Result<json> {
    finish(false, &e);
    return e;
  };
  if (stop_.stop_requested()) {
    return fail(Errc::aborted, "stopped before step '" + name + "'");
  }
  // The intent first: one journal write per step in the usual case; a step done in an earlier
  // run refuses it (already_exists) and is looked up only then.
  if (auto s = journal_.record_intent(name); !s) {
    if (s.error().code != Errc::already_exists) return failed(s.error());
    auto previous = journal_.find(name);
    if (!previous) return failed(previous.error());
    if (!*previous || (*previous)->state != state::StepState::done) {
      return failed(fail(Errc::internal, "step '" + name + "' is done but not found"));
    }
    finish(true, nullptr);
    return ok(std::move((*previous)->detail));
  }
  auto result = action();
  if (!result) {
    // Best effort: if even this fails the step stays "intent" and is redone on resume.
    (void)journal_.record_failed(name, result.error());
    return failed(result.error());
  }
  if (auto s = journal_.record_done(name, *result); !s) return failed(s.error());
  finish(false, nullptr);
  return result;
}

Result<json> poll_until(const std::function<Result<std::optional<json>>()>& done,
                        std::chrono::steady_clock::duration timeout,
                        std::chrono::milliseconds period, std::stop_token stop,
                        std::string_view what) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    auto r = done();
    if (!r) return r.error();
    if (*r) return ok(std::move(**r));
    if (stop.stop_requested()) return fail(Errc::aborted, std::string(what) + ": stopped");
    if (Clock::now() >= deadline) {
      return fail(
          Errc::deadline_exceeded,
          std::string(what) + ": not done after " +
              std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
              " s");
    }
    std::this_thread::sleep_for(period);
  }
}

}  // namespace dr::workflow
