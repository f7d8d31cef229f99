#include "virt/journal.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

namespace dr::virt {

const char* to_string(JournalState state) noexcept {
  switch (state) {
    case JournalState::intent: return "intent";
    case JournalState::done: return "done";
    case JournalState::failed: return "failed";
  }
  return "intent";
}

Result<std::optional<JournalEntry>> MemoryJournal::find(std::string_view step) {
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_) {
    if (e.step == step) return std::optional<JournalEntry>(e);
  }
  return std::optional<JournalEntry>();
}

Status MemoryJournal::update(std::string_view step, JournalState state, std::string_view detail,
                             const Error* error) {
  std::lock_guard lock(mutex_);
  JournalEntry* entry = nullptr;
  for (auto& e : entries_) {
    if (e.step == step) entry = &e;
  }
  if (state == JournalState::intent) {
    if (entry != nullptr && entry->state == JournalState::done) {
      return fail(Errc::already_exists, "journal step '" + std::string(step) + "' is done");
    }
    if (entry == nullptr) {
      JournalEntry fresh;
      fresh.step = std::string(step);
      entry = &entries_.emplace_back(std::move(fresh));
    }
    entry->attempts += 1;
    entry->error.reset();
  } else if (entry == nullptr || entry->state != JournalState::intent) {
    return fail(Errc::failed_precondition,
                "journal step '" + std::string(step) + "' has no recorded intent");
  }
  entry->state = state;
  if (!detail.empty()) entry->detail_json = std::string(detail);
  if (error != nullptr) entry->error = *error;
  return persist(entries_);
}

Status MemoryJournal::record_intent(std::string_view step) {
  return update(step, JournalState::intent, {}, nullptr);
}

Status MemoryJournal::record_done(std::string_view step, std::string_view detail_json) {
  return update(step, JournalState::done, detail_json.empty() ? "{}" : detail_json, nullptr);
}

Status MemoryJournal::record_failed(std::string_view step, const Error& error) {
  return update(step, JournalState::failed, {}, &error);
}

Result<std::vector<JournalEntry>> MemoryJournal::entries() {
  std::lock_guard lock(mutex_);
  return entries_;
}

Status MemoryJournal::clear() {
  std::lock_guard lock(mutex_);
  entries_.clear();
  return persist(entries_);
}

Result<std::unique_ptr<FileJournal>> FileJournal::open(std::string path) {
  std::unique_ptr<FileJournal> journal(new FileJournal(path));
  std::ifstream in(path);
  if (!in) return journal;  // a new journal; created on the first record
  std::stringstream text;
  text << in.rdbuf();
  const auto doc = nlohmann::json::parse(text.str(), nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("steps") ||
      !doc["steps"].is_array()) {
    return fail(Errc::invalid_argument, "restore journal '" + path + "' is not a journal");
  }
  try {
    for (const auto& s : doc["steps"]) {
      JournalEntry e;
      e.step = s.at("step").get<std::string>();
      const auto state = s.at("state").get<std::string>();
      e.state = state == "done" ? JournalState::done
                : state == "failed" ? JournalState::failed
                                    : JournalState::intent;
      e.attempts = s.at("attempts").get<int>();
      e.detail_json = s.at("detail").dump();
      if (s.contains("error")) {
        e.error = fail(Errc::internal, s["error"].get<std::string>());
      }
      journal->entries_.push_back(std::move(e));
    }
  } catch (const nlohmann::json::exception& ex) {
    return fail(Errc::invalid_argument, "restore journal '" + path + "': " + ex.what());
  }
  return journal;
}

Status FileJournal::persist(const std::vector<JournalEntry>& entries) {
  nlohmann::json doc{{"steps", nlohmann::json::array()}};
  for (const auto& e : entries) {
    nlohmann::json s{{"step", e.step},
                     {"state", to_string(e.state)},
                     {"attempts", e.attempts},
                     {"detail", nlohmann::json::parse(e.detail_json, nullptr, false)}};
    if (e.error) s["error"] = std::string(dr::to_string(e.error->code)) + ": " + e.error->message;
    doc["steps"].push_back(std::move(s));
  }
  const std::string tmp = path_ + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << doc.dump(2) << '\n';
    out.flush();
    if (!out) return fail(Errc::unavailable, "cannot write restore journal '" + tmp + "'");
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    return fail(Errc::unavailable, "cannot write restore journal '" + path_ + "'");
  }
  return {};
}

}  // namespace dr::virt
