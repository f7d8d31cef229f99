#pragma once
// What every workflow does with an app's records in the state store: change the app record
// safely under concurrent writers, and name the images of its mirror pairs.
//
// Thread-safety: as the store (every call may run on several threads at once).

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "model/descriptions.hpp"
#include "state/state_store.hpp"
#include "storage/mirror_storage.hpp"
#include "workflow/steps.hpp"

namespace dr::workflow {

// Re-reads the app, applies `change` and stores it, again while another writer wins the race
// (aborted); at most 5 times.
Status update_app(state::StateStore& store, const std::string& app_id,
                  const std::function<void(state::AppRecord&)>& change);

// The app moves to `to`, its last error set to `error` (cleared when nullopt).
Status set_app_state(state::StateStore& store, const std::string& app_id, state::AppState to,
                     const std::optional<Error>& error = std::nullopt);

// A job's hold on the app: the app moves to `during`, `body` runs, and the app moves to `after`,
// or to failed with the error (not when the agent is stopping the job: it stays `during` and the
// job resumes at the next start).
Status owning(state::StateStore& store, const std::string& app_id, const Steps& steps,
              state::AppState during, state::AppState after, const std::function<Status()>& body);

// The mirror pairs a second description's replication section declares.
std::vector<state::MirrorPairRecord> mirror_pairs_of(const model::SecondDescription& second);

// The pair of an image added to the app at the DR site (the same pool and name at both sites, as
// RBD mirroring keeps them), with the mode and interval of the app's other pairs.
state::MirrorPairRecord added_pair(const std::string& app_id, const storage::ImageSpec& image,
                                   const std::vector<state::MirrorPairRecord>& existing);

// The first or second description of the app at `generation`, read from the store.
Result<model::FirstDescription> stored_first(state::StateStore& store, const std::string& app_id,
                                             std::int64_t generation);
Result<model::SecondDescription> stored_second(state::StateStore& store, const std::string& app_id,
                                               std::int64_t generation);

// An image as the store and the storage layer name it (a pool spec "POOL[/NAMESPACE]" and the
// name), and as the descriptions do (pool, namespace and name apart).
inline storage::ImageSpec spec(const state::ImageRef& ref) { return {ref.pool, ref.image}; }
inline state::ImageRef stored(const model::ImageRef& ref) {
  return {model::pool_spec(ref), ref.image};
}
inline model::ImageRef described(const storage::ImageSpec& image) {
  auto pool = storage::parse_pool_spec(image.pool);
  return {std::move(pool.pool), image.image, std::move(pool.rbd_namespace)};
}
inline std::string image_name(const state::ImageRef& ref) { return ref.pool + "/" + ref.image; }

}  // namespace dr::workflow
