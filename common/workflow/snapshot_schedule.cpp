#include "workflow/snapshot_schedule.hpp"

#include "workflow/app_records.hpp"

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
    for (const auto& p : *pairs) {
      if (p.mode != state::MirrorMode::snapshot) continue;
      const auto interval = every_.count() > 0
                                ? std::chrono::duration_cast<std::chrono::milliseconds>(every_)
                                : std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::minutes(p.interval_minutes));
      const auto& image = p.*end;
      const auto name = image_name(image);
      if (auto at = last(app.id, name); at && now() - *at < interval) continue;
      auto ref = storage_.create_mirror_snapshot(spec(image));
      if (!ref && log_) log_("snapshot " + name + " of app " + app.id + ": " + ref.error().message);
      note(app.id, name, now());
    }
  }
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
