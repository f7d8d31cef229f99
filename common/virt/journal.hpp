#pragma once
// RestoreJournal: the step journal of one restore job, so a restore cut off anywhere (agent
// killed, libvirt error) resumes instead of starting over. Write-then-switch, as the state store's
// job journal (state/state_store.hpp, StepState): the workflow records a step's intent before its
// side effect and its result after; on resume a `done` step is skipped (its detail is reused), an
// `intent` step is checked against the world and redone (every restore step is idempotent).
// A later adapter maps this onto StateStore::record_step_*; for now there is an in-memory journal
// (tests, one-shot CLI runs) and a JSON-file journal (a restore resumed by a second CLI run).
//
// Ownership: a journal owns its records (and its file). Thread-safety: every method may be called
// from several threads at once.

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace dr::virt {

enum class JournalState { intent, done, failed };
const char* to_string(JournalState state) noexcept;

struct JournalEntry {
  std::string step;  // unique within the job: "define-domain:app1-web1"
  JournalState state = JournalState::intent;
  int attempts = 0;
  std::string detail_json = "{}";  // what the step did or found
  std::optional<Error> error;      // when failed
};

class RestoreJournal {
 public:
  virtual ~RestoreJournal() = default;
  virtual Result<std::optional<JournalEntry>> find(std::string_view step) = 0;
  virtual Status record_intent(std::string_view step) = 0;
  virtual Status record_done(std::string_view step, std::string_view detail_json) = 0;
  virtual Status record_failed(std::string_view step, const Error& error) = 0;
  virtual Result<std::vector<JournalEntry>> entries() = 0;  // in first-attempt order
  virtual Status clear() = 0;                               // after a teardown
};

class MemoryJournal : public RestoreJournal {
 public:
  Result<std::optional<JournalEntry>> find(std::string_view step) override;
  Status record_intent(std::string_view step) override;
  Status record_done(std::string_view step, std::string_view detail_json) override;
  Status record_failed(std::string_view step, const Error& error) override;
  Result<std::vector<JournalEntry>> entries() override;
  Status clear() override;

 protected:
  // Called with the lock held after every change; the file journal persists there.
  virtual Status persist(const std::vector<JournalEntry>&) { return {}; }
  std::mutex mutex_;
  std::vector<JournalEntry> entries_;

 private:
  Status update(std::string_view step, JournalState state, std::string_view detail,
                const Error* error);
};

// A MemoryJournal mirrored to a JSON file, rewritten atomically (temporary file + rename) on every
// record. open() loads an existing file; unavailable if it cannot be read or written,
// invalid_argument if it is not a journal.
class FileJournal final : public MemoryJournal {
 public:
  static Result<std::unique_ptr<FileJournal>> open(std::string path);

 private:
  explicit FileJournal(std::string path) : path_(std::move(path)) {}
  Status persist(const std::vector<JournalEntry>& entries) override;
  std::string path_;
};

}  // namespace dr::virt
