#pragma once
// The mirror snapshot schedule of the site where an app runs, in rounds: once any snapshot-mode
// pair of an app is due (its intervalMinutes passed since its last snapshot, or the one interval
// configured for every pair), every snapshot-mode primary image of the app gets a mirror snapshot
// in the same round, up to `parallelism` at once, so rbd-mirror at the other site copies images
// taken moments apart instead of one after another (a snapshot waits on the monitor: about a
// second each with Ceph's default proposal interval, docs/platform-notes.md). An app's images
// are thus snapshotted as often as its most frequent pair asks. The production agent runs it for
// the apps it protects; the DR agent for the apps it runs protected in reverse
// (workflow/failback.hpp). A snapshot that fails is logged and tried again at the next round,
// not on every tick; the others of its round are taken.
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
  // `every`: one interval for every pair (0: each pair's own); `parallelism`: snapshots of one
  // round taken at once (at least 1).
  SnapshotSchedule(state::StateStore& store, storage::MirrorStorage& storage,
                   std::chrono::seconds every, int parallelism,
                   std::function<void(std::string_view)> log)
      : store_(store),
        storage_(storage),
        every_(every),
        parallelism_(parallelism),
        log_(std::move(log)) {}

  // Takes the rounds that are due of the apps' snapshot-mode pairs, one app after another; `end`
  // is the pair's image at this site (&MirrorPairRecord::source at production, ::target at the
  // DR site).
  void run_due(const std::vector<state::AppRecord>& apps,
               state::ImageRef state::MirrorPairRecord::*end);

  // One round now, due or not: a mirror snapshot of every snapshot-mode pair's image at this site
  // (`end`), up to `parallelism` at once, each noted when taken. Results in the pairs' order
  // (journal-mode pairs left out).
  struct Taken {
    std::string image;  // "pool/image"
    Result<storage::MirrorSnapshotRef> snapshot;
    state::Timestamp at{};
  };
  std::vector<Taken> take_round(const std::string& app_id,
                                const std::vector<state::MirrorPairRecord>& pairs,
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
  int parallelism_;
  std::function<void(std::string_view)> log_;
  mutable std::mutex mutex_;
  std::map<std::pair<std::string, std::string>, state::Timestamp> last_;
};

}  // namespace dr::workflow
