#pragma once
// The mirror snapshot schedule of the site where an app runs: each pair's primary image gets a
// mirror snapshot once its interval has passed (the pair's intervalMinutes, or one interval for
// every pair when configured), so rbd-mirror at the other site copies it. The production agent
// runs it for the apps it protects; the DR agent for the apps it runs protected in reverse
// (workflow/failback.hpp). A snapshot that fails is logged and tried again at the next interval,
// not on every tick.
//
// Thread-safety: every call may run on several threads at once (one mutex over the times).

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "state/state_store.hpp"
#include "storage/mirror_storage.hpp"

namespace dr::workflow {

class SnapshotSchedule {
 public:
  // `every`: one interval for every pair (0: each pair's own).
  SnapshotSchedule(state::StateStore& store, storage::MirrorStorage& storage,
                   std::chrono::seconds every, std::function<void(std::string_view)> log)
      : store_(store), storage_(storage), every_(every), log_(std::move(log)) {}

  // Takes the snapshots that are due of the apps' snapshot-mode pairs; `end` is the pair's image
  // at this site (&MirrorPairRecord::source at production, ::target at the DR site).
  void run_due(const std::vector<state::AppRecord>& apps,
               state::ImageRef state::MirrorPairRecord::*end);

  // A snapshot of (app, "pool/image") was taken at `at` (by the schedule or by a workflow).
  void note(const std::string& app_id, const std::string& image, state::Timestamp at);
  std::optional<state::Timestamp> last(const std::string& app_id, const std::string& image) const;
  // Every (app, image) with the time of its last snapshot.
  std::map<std::pair<std::string, std::string>, state::Timestamp> all() const;

 private:
  state::StateStore& store_;
  storage::MirrorStorage& storage_;
  std::chrono::seconds every_;
  std::function<void(std::string_view)> log_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, state::Timestamp> last_;
};

}  // namespace dr::workflow
