#pragma once
// Scenarios of RBD snapshot mirroring, written once over two MirrorStorage sites and run both
// against the real two-cluster pair (tests/system/storage/mirror_scenarios_ceph_test.cpp) and
// against the model (TwoSiteMirror, tests/integration/storage/two_site_mirror_test.cpp): the
// same assertions on both are what keeps the model true to the pair (docs/platform-notes.md,
// "Ceph RBD mirroring"). Each scenario REQUIREs and CHECKs through Catch2, so it is called from a
// TEST_CASE; each uses images of its own, named by MirrorWorld::new_image.
//
// A world gives the scenarios what MirrorStorage cannot: time for rbd-mirror's background work,
// losing and restoring a site, fresh names. Scenarios take waits with generous deadlines, which a
// real pair leaves early once the copy is done and the model fills with model time only.
// Thread-safety: a world and its scenarios are used by one thread.

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "storage/mirror_storage.hpp"

namespace dr::testing {

class MirrorWorld {
 public:
  virtual ~MirrorWorld() = default;
  // "site-a", primary of every image at the start of a scenario, and "site-b". a() may return
  // another object after restore_a(): do not keep the reference across it.
  virtual storage::MirrorStorage& a() = 0;
  virtual storage::MirrorStorage& b() = 0;
  // A pool mirrored in image mode at both sites, peered rx-tx.
  virtual std::string pool() = 0;
  // A name in pool() no other scenario uses. The world removes what is left of it at the end.
  virtual storage::ImageSpec new_image(const std::string& base) = 0;
  // A new pool at both sites (same name), mirroring disabled, not peered; removed at the end.
  virtual std::string new_pool(const std::string& base) = 0;
  // Until `condition` holds, letting rbd-mirror work and its periodic checks run: a real pair
  // polls up to `limit`; the model replays and runs a few checks.
  virtual bool eventually(const std::function<bool()>& condition, std::chrono::seconds limit) = 0;
  // site-a stops answering, as in a power loss (its data stays), and comes back.
  virtual void lose_a() = 0;
  virtual void restore_a() = 0;
  // True if races have one outcome (the model: rbd-mirror copies only when asked to), so a
  // scenario may assert the outcome a real pair only makes likely.
  virtual bool deterministic() const = 0;
};

// Reading a site in a test: each REQUIREs that the call succeeds.
storage::ImageRole image_role(storage::MirrorStorage& site, const storage::ImageSpec& image);
std::string image_checksum(storage::MirrorStorage& site, const storage::ImageSpec& image);
std::vector<storage::MirrorSnapshot> image_snapshots(storage::MirrorStorage& site,
                                                     const storage::ImageSpec& image);
// CHECKs that `primary` holds the image's primary role, `copy` the non-primary one, and both the
// same data.
void check_one_primary(storage::MirrorStorage& primary, storage::MirrorStorage& copy,
                       const storage::ImageSpec& image);

// Data written at the primary arrives byte-identical once a mirror snapshot is complete at the
// copy, and not before; the copy is read-only; lag and status describe it.
void scenario_data_arrives_byte_identical(MirrorWorld& world);
// A planned promote is refused while the peer is primary and before its demotion is complete
// here, and goes through after.
void scenario_planned_promote_waits_for_demotion(MirrorWorld& world);
// Mirror snapshots through one role change, step by step: what each side holds.
void scenario_role_change_snapshot_history(MirrorWorld& world);
// planned_role_change A->B and back, with reverse protection each way, data flowing each way.
void scenario_planned_role_change_round_trip(MirrorWorld& world);
// The failback stall (the new primary demoted before the old one copied anything from it) is
// recovered by planned_role_change.
void scenario_failback_stall_recovered(MirrorWorld& world);
// A demoted primary promoted again (nothing arrived elsewhere meanwhile) replicates again.
void scenario_demotion_undone(MirrorWorld& world);
// An image in an RBD namespace mirrors into the namespace of its name at the peer, named by its
// pool's mirror uuid, and changes roles as in a pool.
void scenario_namespace_mirrors_into_its_name(MirrorWorld& world);
// Disaster: a forced promote with the peer down; on its return both are primary (split brain)
// and a planned role change refuses.
void scenario_forced_promote_with_the_peer_down(MirrorWorld& world);
// The same, then reprotect_pair leaves one primary and equal data, and a planned role change
// takes the image home. On the real pair it takes ~100 s (the resync of the returned site alone
// 57 s), so the system tests run it only on request.
void scenario_forced_promote_and_split_brain_recovery(MirrorWorld& world);
// A forced promote with the peer up makes a split brain; reprotect_pair resolves it.
void scenario_split_brain_with_both_sites_up(MirrorWorld& world);
// Reprotect after a planned role change: the old primary becomes the replica with no resync.
void scenario_reprotect_after_planned_change(MirrorWorld& world);
// Resync of a healthy copy: thrown away and copied again.
void scenario_resync_copies_again(MirrorWorld& world);
// Disabling mirroring of the primary makes the peer's rbd-mirror delete the copy.
void scenario_disabling_the_primary_removes_the_copy(MirrorWorld& world);
// A new pool peered by bootstrap token: uuids, peers, and an image that then arrives.
void scenario_peering_a_new_pool(MirrorWorld& world);
// Many snapshots: how many each side keeps.
void scenario_snapshots_are_pruned(MirrorWorld& world);

}  // namespace dr::testing
