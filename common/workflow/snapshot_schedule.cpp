#include "workflow/snapshot_schedule.hpp"

#include <algorithm>

#include "workflow/app_records.hpp"
#include "workflow/parallel.hpp"

namespace dr::workflow {
namespace {

state::Timestamp now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace

void SnapshotSchedule::run_due(const std::vector<state::AppRecord>& apps,
                               state::ImageRef state::MirrorPairRecord::*end) {
  for (const auto& app : apps) {
    auto pairs = store_.mirror_pairs(app.id);
    if (!pairs) continue;
    const auto due = std::any_of(pairs->begin(), pairs->end(), [&](const auto& p) {
      if (p.mode != state::MirrorMode::snapshot) return false;
      const auto interval = every_.count() > 0
                                ? std::chrono::duration_cast<std::chrono::milliseconds>(every_)
                                : std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::minutes(p.interval_minutes));
      const auto at = last(app.id, image_name(p.*end));
      return !at || now() - *at >= interval;
    });
    if (!due) continue;
    for (const auto& t : take_round(app.id, *pairs, end)) {
      if (!t.snapshot && log_) {
        log_("snapshot " + t.image + " of app " + app.id + ": " + t.snapshot.error().message);
      }
    }
  }
}

std::vector<SnapshotSchedule::Taken> SnapshotSchedule::take_round(
    const std::string& app_id, const std::vector<state::MirrorPairRecord>& pairs,
    state::ImageRef state::MirrorPairRecord::*end) {
  std::vector<state::ImageRef> images;
  for (const auto& p : pairs) {
    if (p.mode == state::MirrorMode::snapshot) images.push_back(p.*end);
  }
  return parallel_map(parallelism_, images, [&](const state::ImageRef& image) {
    Taken t{image_name(image), storage_.create_mirror_snapshot(spec(image)), now()};
    note(app_id, t.image, t.at);
    return t;
  });
}

void SnapshotSchedule::note(const std::string& app_id, const std::string& image,
                            state::Timestamp at) {
  std::lock_guard lock(mutex_);
  last_[{app_id, image}] = at;
}

std::optional<state::Timestamp> SnapshotSchedule::last(const std::string& app_id,
                                                       const std::string& image) const {
  std::lock_guard lock(mutex_);
  const auto it = last_.find({app_id, image});
  if (it == last_.end()) return std::nullopt;
  return it->second;
}

std::map<std::pair<std::string, std::string>, state::Timestamp> SnapshotSchedule::all() const {
  std::lock_guard lock(mutex_);
  return last_;
}

}  // namespace dr::workflow
