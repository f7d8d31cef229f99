#include "support/mirror_scenarios.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <vector>

#include "storage/role_change.hpp"

namespace dr::testing {

namespace {

using namespace std::chrono_literals;
using storage::ImageRole;
using storage::ImageSpec;
using storage::MirrorMode;
using storage::MirrorSnapshot;
using storage::MirrorSnapshotRef;
using storage::MirrorSnapshotState;
using storage::MirrorStorage;
using storage::Promotion;
using Clock = std::chrono::steady_clock;

constexpr std::uint64_t kImageBytes = 16u << 20;
// A new image's first copy can wait for rbd-mirror to notice the image or a new peer.
constexpr auto kFirstSync = 90s;
// Waits that may need one of rbd-mirror's periodic checks (30 s in production).
constexpr auto kOneCheck = 120s;

storage::Deadline in(std::chrono::seconds s) { return Clock::now() + s; }
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Deterministic bytes that differ with `seed` (xorshift64*).
std::vector<std::byte> bytes(std::size_t size, unsigned seed) {
  std::vector<std::byte> out(size);
  std::uint64_t x = 0x9E3779B97F4A7C15ull + seed;
  for (std::size_t i = 0; i < size; i += 8) {
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    const std::uint64_t v = x * 0x2545F4914F6CDD1Dull;
    for (std::size_t k = 0; k < 8 && i + k < size; ++k)
      out[i + k] = static_cast<std::byte>(v >> (8 * k));
  }
  return out;
}

std::string uuid(MirrorStorage& site, const std::string& pool) {
  auto u = site.mirror_uuid(pool);
  REQUIRE(u);
  return *u;
}

const MirrorSnapshot* find_copy(const std::vector<MirrorSnapshot>& snaps,
                                const MirrorSnapshotRef& ref) {
  for (const auto& s : snaps)
    if (s.copies(ref)) return &s;
  return nullptr;
}

std::string show(const std::vector<MirrorSnapshot>& snaps) {
  std::string out;
  for (const auto& s : snaps) {
    out += " [" + std::to_string(s.id) + " " + to_string(s.state);
    if (!s.is_primary())
      out += " of " + s.primary_mirror_uuid.substr(0, 8) + "/" + std::to_string(s.primary_snap_id);
    out += s.complete ? "" : " incomplete";
    out += "]";
  }
  return out;
}

std::string describe_status(const storage::ImageMirrorStatus& status) {
  std::string out;
  for (const auto& s : status.sites)
    out += " [" + (s.site_name.empty() ? std::string("local") : s.site_name) + " " +
           to_string(s.state) + " " + s.description + "]";
  return out;
}

// Prints on a real pair only: its figures and histories are what the model is checked against.
void report(MirrorWorld& world, const std::string& line) {
  if (!world.deterministic()) std::printf("%s\n", line.c_str());
}

// A primary image at a() with data, mirrored in snapshot mode, a snapshot complete at b().
ImageSpec synced_image(MirrorWorld& world, const std::string& base, unsigned seed) {
  const auto image = world.new_image(base);
  REQUIRE(world.a().create_image(image, kImageBytes));
  REQUIRE(world.a().write(image, 0, bytes(4u << 20, seed)));
  REQUIRE(world.a().enable_mirroring(image, MirrorMode::snapshot));
  auto snap = world.a().create_mirror_snapshot(image);
  REQUIRE(snap);
  REQUIRE(world.b().wait_for_snapshot(image, *snap, in(kFirstSync)));
  return image;
}

// Writes at the primary, takes a mirror snapshot, waits for it at the other site, and compares.
void write_and_replicate(MirrorStorage& primary, MirrorStorage& secondary, const ImageSpec& image,
                         unsigned seed, std::chrono::seconds limit = kOneCheck) {
  REQUIRE(primary.write(image, (seed % 3) * (4u << 20), bytes(1u << 20, seed)));
  auto snap = primary.create_mirror_snapshot(image);
  REQUIRE(snap);
  REQUIRE(secondary.wait_for_snapshot(image, *snap, in(limit)));
  CHECK(image_checksum(secondary, image) == image_checksum(primary, image));
}

}  // namespace

void scenario_data_arrives_byte_identical(MirrorWorld& world) {
  auto& a = world.a();
  auto& b = world.b();
  const auto image = world.new_image("data");
  REQUIRE(a.create_image(image, kImageBytes));
  REQUIRE(a.write(image, 0, bytes(4u << 20, 1)));
  REQUIRE(a.enable_mirroring(image, MirrorMode::snapshot));
  REQUIRE(a.enable_mirroring(image, MirrorMode::snapshot));  // idempotent
  REQUIRE(a.write(image, 8u << 20, bytes(1u << 20, 2)));
  auto snap = a.create_mirror_snapshot(image);
  REQUIRE(snap);
  CHECK(snap->source_mirror_uuid == uuid(a, image.pool));
  const auto t0 = Clock::now();
  REQUIRE(b.wait_for_snapshot(image, *snap, in(kFirstSync)));
  report(world, "data: first snapshot complete at site-b " + std::to_string(seconds_since(t0)) +
                    " s after it was taken");

  CHECK(image_checksum(b, image) == image_checksum(a, image));
  auto size = b.image_size(image);
  REQUIRE(size);
  CHECK(*size == kImageBytes);
  auto info_a = a.mirror_info(image);
  auto info_b = b.mirror_info(image);
  REQUIRE(info_a);
  REQUIRE(info_b);
  CHECK(info_a->role == ImageRole::primary);
  CHECK(info_b->role == ImageRole::non_primary);
  CHECK(info_b->global_id == info_a->global_id);
  CHECK(info_b->mode == MirrorMode::snapshot);

  const auto at_b = image_snapshots(b, image);
  const auto* copy = find_copy(at_b, *snap);
  REQUIRE(copy != nullptr);
  CHECK(copy->complete);
  CHECK(copy->state == MirrorSnapshotState::non_primary);
  CHECK(copy->primary_mirror_uuid == uuid(a, image.pool));

  // The copy is read-only and cannot take snapshots; lag is read there, not at the primary.
  auto write_copy = b.write(image, 0, bytes(4096, 3));
  REQUIRE_FALSE(write_copy);
  CHECK(write_copy.error().code == Errc::failed_precondition);
  auto snap_copy = b.create_mirror_snapshot(image);
  REQUIRE_FALSE(snap_copy);
  CHECK(snap_copy.error().code == Errc::failed_precondition);
  auto lag = b.replication_lag(image);
  REQUIRE(lag);
  REQUIRE(lag->newest_synced);
  CHECK(*lag->newest_synced == *snap);
  CHECK(lag->age < 120s);
  auto lag_primary = a.replication_lag(image);
  REQUIRE_FALSE(lag_primary);
  CHECK(lag_primary.error().code == Errc::failed_precondition);

  // Written after the snapshot: not there until the next snapshot is complete.
  const auto before = image_checksum(b, image);
  REQUIRE(a.write(image, 12u << 20, bytes(1u << 20, 4)));
  CHECK(image_checksum(a, image) != before);
  CHECK(image_checksum(b, image) == before);
  auto next = a.create_mirror_snapshot(image);
  REQUIRE(next);
  REQUIRE(b.wait_for_snapshot(image, *next, in(kOneCheck)));
  CHECK(image_checksum(b, image) == image_checksum(a, image));

  // rbd-mirror's status lags on a real pair, so it is polled.
  const bool replaying = world.eventually(
      [&] {
        auto status = a.mirror_status(image);
        return status && status->up_and_replaying();
      },
      60s);
  CHECK(replaying);
}

void scenario_planned_promote_waits_for_demotion(MirrorWorld& world) {
  const auto image = synced_image(world, "guard", 5);
  auto& a = world.a();
  auto& b = world.b();

  auto busy = b.promote(image, Promotion::planned);
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == Errc::failed_precondition);
  CHECK(image_role(b, image) == ImageRole::non_primary);

  // A large change so the demotion snapshot takes a moment to copy.
  REQUIRE(a.write(image, 0, bytes(kImageBytes, 6)));
  auto demotion = a.demote(image);
  REQUIRE(demotion);
  auto early = b.promote(image, Promotion::planned);
  if (world.deterministic()) CHECK_FALSE(early);  // nothing was copied yet
  if (!early) {
    CHECK(early.error().code == Errc::failed_precondition);
    REQUIRE(b.wait_for_snapshot(image, *demotion, in(60s)));
    REQUIRE(b.promote(image, Promotion::planned));
  }
  report(world, std::string("guard: promote right after the demote ") +
                    (early ? "went through" : "was refused"));
  // It went through only with the demotion complete here.
  const auto at_b = image_snapshots(b, image);
  const auto* copy = find_copy(at_b, *demotion);
  REQUIRE(copy != nullptr);
  CHECK(copy->complete);
  CHECK(copy->state == MirrorSnapshotState::non_primary_demoted);
  check_one_primary(b, a, image);
}

void scenario_role_change_snapshot_history(MirrorWorld& world) {
  const auto image = synced_image(world, "history", 8);
  auto& a = world.a();
  auto& b = world.b();
  const auto uuid_a = uuid(a, image.pool);
  const auto uuid_b = uuid(b, image.pool);
  CHECK(uuid_a != uuid_b);

  auto demotion = a.demote(image);
  REQUIRE(demotion);
  CHECK(demotion->source_mirror_uuid == uuid_a);
  const auto at_a = image_snapshots(a, image);
  REQUIRE(at_a.size() >= 2);
  CHECK(at_a.back().id == demotion->snap_id);
  CHECK(at_a.back().state == MirrorSnapshotState::primary_demoted);
  CHECK(at_a[at_a.size() - 2].state == MirrorSnapshotState::primary);
  auto again = a.demote(image);
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::failed_precondition);

  REQUIRE(b.wait_for_snapshot(image, *demotion, in(60s)));
  const auto at_b = image_snapshots(b, image);
  REQUIRE_FALSE(at_b.empty());
  CHECK(at_b.back().copies(*demotion));
  CHECK(at_b.back().state == MirrorSnapshotState::non_primary_demoted);
  CHECK(at_b.back().complete);

  REQUIRE(b.promote(image, Promotion::planned));
  auto twice = b.promote(image, Promotion::planned);
  REQUIRE_FALSE(twice);
  CHECK(twice.error().code == Errc::failed_precondition);
  CHECK_THAT(twice.error().message, Catch::Contains("already primary"));
  const auto promoted = image_snapshots(b, image);
  report(world, "history: site-a after demote:" + show(at_a));
  report(world, "history: site-b after promote:" + show(promoted));
  // Promoting takes a primary snapshot of its own; of the copies, the demotion's is left.
  REQUIRE(promoted.size() == 2);
  CHECK(promoted[0].copies(*demotion));
  CHECK(promoted[1].state == MirrorSnapshotState::primary);

  // The old primary gets the new primary's snapshots (after one periodic check).
  auto reverse = b.create_mirror_snapshot(image);
  REQUIRE(reverse);
  CHECK(reverse->source_mirror_uuid == uuid_b);
  const auto t0 = Clock::now();
  REQUIRE(a.wait_for_snapshot(image, *reverse, in(kOneCheck)));
  report(world, "history: first snapshot of the new primary complete at the old one after " +
                    std::to_string(seconds_since(t0)) + " s");
  const auto reversed = image_snapshots(a, image);
  report(world, "history: site-a after the reverse copy:" + show(reversed));
  REQUIRE_FALSE(reversed.empty());
  CHECK(reversed.back().copies(*reverse));
  CHECK(reversed.back().state == MirrorSnapshotState::non_primary);
  // Its own snapshots from when it was primary stay; of the copies only the newest.
  CHECK(reversed[reversed.size() - 2].id == demotion->snap_id);
  CHECK(std::count_if(reversed.begin(), reversed.end(),
                      [](const MirrorSnapshot& s) { return !s.is_primary(); }) == 1);
  CHECK(image_checksum(a, image) == image_checksum(b, image));
}

void scenario_planned_role_change_round_trip(MirrorWorld& world) {
  const auto image = synced_image(world, "roundtrip", 10);
  auto& a = world.a();
  auto& b = world.b();

  auto over = storage::planned_role_change(a, b, image, in(kOneCheck));
  REQUIRE(over);
  check_one_primary(b, a, image);
  CHECK(over->reverse_protected);
  write_and_replicate(b, a, image, 11);

  auto back = storage::planned_role_change(b, a, image, in(kOneCheck));
  REQUIRE(back);
  check_one_primary(a, b, image);
  CHECK(back->reverse_protected);
  CHECK_FALSE(back->recovered_stall);
  write_and_replicate(a, b, image, 12);
  report(world, "round trip: failover " + std::to_string(over->total.count() / 1000.0) +
                    " s, failback " + std::to_string(back->total.count() / 1000.0) + " s");

  // Asking again once it is done changes nothing.
  auto again = storage::planned_role_change(b, a, image, in(60s));
  REQUIRE(again);
  CHECK(again->steps.size() == 1);
  CHECK(image_role(a, image) == ImageRole::primary);
}

void scenario_failback_stall_recovered(MirrorWorld& world) {
  const auto image = synced_image(world, "stall", 14);
  auto& a = world.a();
  auto& b = world.b();

  // Fail over without waiting for reverse protection, then demote the new primary at once: the
  // sequence that stalls (site-a's replayer has copied nothing from site-b).
  auto over =
      storage::planned_role_change(a, b, image, in(kOneCheck), {.wait_reverse_protection = false});
  REQUIRE(over);
  CHECK_FALSE(over->reverse_protected);
  REQUIRE(b.write(image, 0, bytes(1u << 20, 15)));
  REQUIRE(b.demote(image));
  CHECK(image_role(a, image) == ImageRole::non_primary);
  CHECK(image_role(b, image) == ImageRole::non_primary);

  auto back = storage::planned_role_change(b, a, image, in(180s));
  REQUIRE(back);
  report(world, std::string("stall: recovered_stall=") + (back->recovered_stall ? "1" : "0") +
                    ", " + std::to_string(back->total.count() / 1000.0) + " s");
  if (world.deterministic()) CHECK(back->recovered_stall);
  check_one_primary(a, b, image);
  CHECK(back->reverse_protected);
  CHECK(image_checksum(a, image) == image_checksum(b, image));
  // Replication runs a -> b again.
  write_and_replicate(a, b, image, 16);
}

void scenario_demotion_undone(MirrorWorld& world) {
  const auto image = synced_image(world, "undo", 18);
  auto& a = world.a();
  auto& b = world.b();
  auto demotion = a.demote(image);
  REQUIRE(demotion);
  REQUIRE(b.wait_for_snapshot(image, *demotion, in(60s)));
  // site-a was primary last (its own demotion is its newest snapshot): it may take the role
  // back without force.
  REQUIRE(a.promote(image, Promotion::planned));
  check_one_primary(a, b, image);
  REQUIRE(a.write(image, 4u << 20, bytes(1u << 20, 19)));
  auto snap = a.create_mirror_snapshot(image);
  REQUIRE(snap);
  const auto t0 = Clock::now();
  REQUIRE(b.wait_for_snapshot(image, *snap, in(kOneCheck)));
  report(world, "undo: first snapshot after the re-promote complete at site-b after " +
                    std::to_string(seconds_since(t0)) + " s");
  CHECK(image_checksum(b, image) == image_checksum(a, image));
}

namespace {

// site-a lost, site-b promoted by force, site-a back: primary at both sites. Returns the image.
ImageSpec forced_promote_with_a_lost(MirrorWorld& world) {
  const auto image = synced_image(world, "disaster", 20);
  const auto synced = image_checksum(world.b(), image);
  // Written at site-a after its last snapshot: lost with the site.
  REQUIRE(world.a().write(image, 0, bytes(1u << 20, 21)));

  world.lose_a();
  auto& b = world.b();
  const auto t0 = Clock::now();
  REQUIRE(b.promote(image, Promotion::forced));
  report(world, "disaster: forced promote " + std::to_string(seconds_since(t0)) + " s");
  CHECK(image_role(b, image) == ImageRole::primary);
  CHECK(image_checksum(b, image) == synced);
  REQUIRE(b.write(image, 8u << 20, bytes(1u << 20, 22)));
  auto at_b = image_snapshots(b, image);
  report(world, "disaster: site-b after the forced promote:" + show(at_b));
  // Only the promote's own snapshot is left: no copy of site-a's.
  REQUIRE(at_b.size() == 1);
  CHECK(at_b.back().state == MirrorSnapshotState::primary);

  const auto t1 = Clock::now();
  world.restore_a();
  report(world, "disaster: site-a back after " + std::to_string(seconds_since(t1)) + " s");
  auto& a = world.a();
  // Both primary: the role change refuses and names the split brain.
  CHECK(image_role(a, image) == ImageRole::primary);
  auto a_side = storage::observe_side(a, image);
  auto b_side = storage::observe_side(b, image);
  REQUIRE(a_side);
  REQUIRE(b_side);
  auto first = storage::first_step(*b_side, *a_side, "test");
  REQUIRE_FALSE(first);
  CHECK(first.error().code == Errc::failed_precondition);
  CHECK_THAT(first.error().message, Catch::Contains("split brain"));
  auto change = storage::planned_role_change(b, a, image, in(60s));
  REQUIRE_FALSE(change);
  CHECK(change.error().code == Errc::failed_precondition);
  return image;
}

}  // namespace

void scenario_forced_promote_with_the_peer_down(MirrorWorld& world) {
  (void)forced_promote_with_a_lost(world);
}

void scenario_forced_promote_and_split_brain_recovery(MirrorWorld& world) {
  const auto image = forced_promote_with_a_lost(world);
  auto& a = world.a();
  auto& b = world.b();
  const auto t1 = Clock::now();
  auto recovered = storage::reprotect_pair(b, a, image, in(180s));
  REQUIRE(recovered);
  CHECK(recovered->resynced);
  report(world, "disaster: split-brain recovery " + std::to_string(seconds_since(t1)) + " s");
  check_one_primary(b, a, image);

  // And back home, planned.
  auto back = storage::planned_role_change(b, a, image, in(180s));
  REQUIRE(back);
  check_one_primary(a, b, image);
}

void scenario_split_brain_with_both_sites_up(MirrorWorld& world) {
  const auto image = synced_image(world, "splitbrain", 24);
  auto& a = world.a();
  auto& b = world.b();
  const auto t0 = Clock::now();
  REQUIRE(b.promote(image, Promotion::forced));
  report(world, "split brain: forced promote with the peer primary " +
                    std::to_string(seconds_since(t0)) + " s");
  CHECK(image_role(a, image) == ImageRole::primary);
  CHECK(image_role(b, image) == ImageRole::primary);
  // Divergent writes; neither side copies the other's.
  REQUIRE(b.write(image, 0, bytes(1u << 20, 25)));
  REQUIRE(a.write(image, 0, bytes(1u << 20, 26)));
  auto snap_b = b.create_mirror_snapshot(image);
  REQUIRE(snap_b);
  auto nothing = a.wait_for_snapshot(image, *snap_b, in(5s));
  REQUIRE_FALSE(nothing);
  CHECK(nothing.error().code == Errc::failed_precondition);  // primary here
  CHECK(image_checksum(a, image) != image_checksum(b, image));
  // rbd-mirror does not call this a split brain: each daemon reports its image primary.
  std::string seen;
  const auto both_report_primary = [&] {
    auto status = a.mirror_status(image);
    REQUIRE(status);
    seen = describe_status(*status);
    int primary = 0;
    for (const auto& s : status->sites)
      primary += s.description.find("local image is primary") != std::string::npos ? 1 : 0;
    return primary == 2 && !status->split_brain();
  };
  CHECK(world.eventually(both_report_primary, 30s));
  report(world, "split brain: both primary, site-a's status:" + seen);

  // The loser demoted without a resync: its replayer finds that the primary's history does not
  // continue its own.
  REQUIRE(b.demote(image));
  const bool reported = world.eventually(
      [&] {
        auto status = b.mirror_status(image);
        REQUIRE(status);
        seen = describe_status(*status);
        return status->split_brain();
      },
      30s);
  report(world, "split brain: demoted loser, site-b's status:" + seen);
  CHECK(reported);
  CHECK(image_checksum(a, image) != image_checksum(b, image));

  auto recovered = storage::reprotect_pair(a, b, image, in(180s));
  REQUIRE(recovered);
  CHECK(recovered->resynced);
  // What the loser took after its last snapshot the keeper holds: snap_b, then its demotion.
  REQUIRE(recovered->discarded);
  CHECK(recovered->discarded->unreplicated_snapshots >= 1);
  CHECK(recovered->discarded->demoted_at.has_value());
  check_one_primary(a, b, image);
  CHECK(image_checksum(a, image) == image_checksum(b, image));
}

void scenario_reprotect_after_planned_change(MirrorWorld& world) {
  const auto image = synced_image(world, "reprotectplanned", 29);
  auto& a = world.a();
  auto& b = world.b();
  auto changed = storage::planned_role_change(a, b, image, in(180s),
                                              {.wait_reverse_protection = false});
  REQUIRE(changed);
  REQUIRE(b.write(image, 0, bytes(1u << 20, 30)));
  const auto t0 = Clock::now();
  auto reprotected = storage::reprotect_pair(b, a, image, in(180s));
  REQUIRE(reprotected);
  report(world, "reprotect after a planned change: " + std::to_string(seconds_since(t0)) + " s");
  CHECK_FALSE(reprotected->resynced);  // nothing diverged: no full copy
  check_one_primary(b, a, image);
  CHECK(image_checksum(a, image) == image_checksum(b, image));
  // Asked again, it finds the pair protected in reverse already.
  auto again = storage::reprotect_pair(b, a, image, in(60s));
  REQUIRE(again);
  CHECK(again->steps.size() == 1);
}

void scenario_resync_copies_again(MirrorWorld& world) {
  const auto image = synced_image(world, "resync", 28);
  auto& a = world.a();
  auto& b = world.b();
  write_and_replicate(a, b, image, 29);
  auto primary_resync = a.resync(image);
  REQUIRE_FALSE(primary_resync);
  CHECK(primary_resync.error().code == Errc::failed_precondition);

  REQUIRE(b.resync(image));
  const auto t0 = Clock::now();
  // The copy is deleted and made again: until then a wait may find no image (not_found on the
  // real pair) or run out; each try takes a fresh snapshot so the check means something.
  bool done = false;
  for (int tries = 0; tries < 12 && !done; ++tries) {
    auto snap = a.create_mirror_snapshot(image);
    REQUIRE(snap);
    auto w = b.wait_for_snapshot(image, *snap, in(15s));
    if (!w) CHECK((w.error().code == Errc::not_found || w.error().code == Errc::deadline_exceeded));
    done = w.has_value();
  }
  REQUIRE(done);
  report(world, "resync: copied again after " + std::to_string(seconds_since(t0)) + " s");
  CHECK(image_role(b, image) == ImageRole::non_primary);
  CHECK(image_checksum(b, image) == image_checksum(a, image));
}

void scenario_disabling_the_primary_removes_the_copy(MirrorWorld& world) {
  const auto image = synced_image(world, "disable", 32);
  auto& a = world.a();
  auto& b = world.b();
  auto copy_disable = b.disable_mirroring(image, false);
  REQUIRE_FALSE(copy_disable);
  CHECK(copy_disable.error().code == Errc::failed_precondition);

  REQUIRE(a.disable_mirroring(image, false));
  REQUIRE(a.disable_mirroring(image, false));  // idempotent
  CHECK(image_role(a, image) == ImageRole::not_mirrored);
  const auto t0 = Clock::now();
  const bool gone = world.eventually(
      [&] {
        auto exists = b.image_exists(image);
        return exists && !*exists;
      },
      60s);
  CHECK(gone);
  report(world, "disable: copy deleted after " + std::to_string(seconds_since(t0)) + " s");
  // The former primary stays, a plain image.
  REQUIRE(a.write(image, 0, bytes(4096, 33)));
}

void scenario_peering_a_new_pool(MirrorWorld& world) {
  auto& a = world.a();
  auto& b = world.b();
  const auto pool = world.new_pool("peering");

  auto refused = a.create_bootstrap_token(pool);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::failed_precondition);
  CHECK_THAT(refused.error().message, Catch::Contains(pool));
  auto no_uuid = a.mirror_uuid(pool);
  REQUIRE_FALSE(no_uuid);
  CHECK(no_uuid.error().code == Errc::failed_precondition);
  // Nor a namespace of it: namespaces mirror through their pool's peers.
  auto no_namespace = a.enable_pool_mirroring(pool + "/ns1");
  REQUIRE_FALSE(no_namespace);
  CHECK(no_namespace.error().code == Errc::failed_precondition);
  CHECK_THAT(no_namespace.error().message,
             Catch::Contains("pool '" + pool + "' does not mirror in image mode"));

  REQUIRE(a.enable_pool_mirroring(pool));
  REQUIRE(b.enable_pool_mirroring(pool));
  REQUIRE(a.enable_pool_mirroring(pool));  // idempotent
  const auto uuid_a = uuid(a, pool);
  const auto uuid_b = uuid(b, pool);
  CHECK_FALSE(uuid_a.empty());
  CHECK(uuid_a != uuid_b);
  CHECK(uuid_a != uuid(a, world.pool()));  // per pool

  // An image mirrored before the pools are peers stays where it is.
  const ImageSpec image{pool, "early"};
  REQUIRE(a.create_image(image, 4u << 20));
  REQUIRE(a.write(image, 0, bytes(1u << 20, 34)));
  REQUIRE(a.enable_mirroring(image, MirrorMode::snapshot));
  auto lonely = b.wait_for_snapshot(image, {uuid_a, 1}, in(1s));
  REQUIRE_FALSE(lonely);
  CHECK(lonely.error().code == Errc::deadline_exceeded);
  auto exists = b.image_exists(image);
  REQUIRE(exists);
  CHECK_FALSE(*exists);

  auto token = a.create_bootstrap_token(pool);
  REQUIRE(token);
  CHECK_FALSE(token->secret.empty());
  REQUIRE(b.import_bootstrap_token(pool, *token, storage::PeerDirection::rx_tx));
  REQUIRE(b.import_bootstrap_token(pool, *token, storage::PeerDirection::rx_tx));  // harmless
  auto bad = b.import_bootstrap_token(pool, {"not a token"}, storage::PeerDirection::rx_tx);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::invalid_argument);

  auto at_a = a.list_peers(pool);
  auto at_b = b.list_peers(pool);
  REQUIRE(at_a);
  REQUIRE(at_b);
  REQUIRE(at_a->size() == 1);  // rx-tx: the import registered site-b at site-a too
  REQUIRE(at_b->size() == 1);
  CHECK(at_b->front().direction == storage::PeerDirection::rx_tx);
  auto name_a = a.site_name();
  auto name_b = b.site_name();
  REQUIRE(name_a);
  REQUIRE(name_b);
  CHECK(at_b->front().site_name == *name_a);
  CHECK(at_a->front().site_name == *name_b);

  // Now the image's snapshots arrive (rbd-mirror notices the new peer on its pool refresh).
  auto snap = a.create_mirror_snapshot(image);
  REQUIRE(snap);
  const auto t0 = Clock::now();
  REQUIRE(b.wait_for_snapshot(image, *snap, in(kFirstSync)));
  report(world, "peering: first snapshot in the new pool arrived after " +
                    std::to_string(seconds_since(t0)) + " s");
  CHECK(image_checksum(b, image) == image_checksum(a, image));

  // Pool mirroring cannot go while an image mirrors.
  auto busy = a.disable_pool_mirroring(pool);
  report(world, std::string("peering: disable pool mirroring with a mirrored image: ") +
                    (busy ? "ok" : to_string(busy.error().code)));
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == Errc::failed_precondition);
  REQUIRE(a.remove_image(image));
  CHECK(world.eventually(
      [&] {
        auto e = b.image_exists(image);
        return e && !*e;
      },
      60s));
  REQUIRE(a.remove_peer(pool, at_a->front().uuid));
  REQUIRE(b.remove_peer(pool, at_b->front().uuid));
  auto none = b.list_peers(pool);
  REQUIRE(none);
  CHECK(none->empty());
  // Removing it again is harmless.
  CHECK(b.remove_peer(pool, at_b->front().uuid));
}

void scenario_namespace_mirrors_into_its_name(MirrorWorld& world) {
  auto& a = world.a();
  auto& b = world.b();
  // A namespace of the mirrored pool, made at each site as mirroring is enabled on it.
  const std::string spec = world.pool() + "/" + world.new_image("ns").image;
  REQUIRE(a.enable_pool_mirroring(spec));
  REQUIRE(b.enable_pool_mirroring(spec));
  REQUIRE(b.enable_pool_mirroring(spec));  // idempotent
  // Peers and the mirror uuid are the pool's: that uuid names site-a in the namespace's
  // snapshots too (the namespace's own uuid names nothing peers see).
  CHECK(uuid(a, spec) == uuid(a, world.pool()));
  auto peers = a.list_peers(spec);
  REQUIRE(peers);
  CHECK(peers->size() == 1);
  auto pools = a.list_pools();
  REQUIRE(pools);
  for (const auto& p : *pools) CHECK(p.name.find('/') == std::string::npos);

  const ImageSpec image{spec, "img"};
  REQUIRE(a.create_image(image, 12u << 20));  // write_and_replicate writes up to 9 MiB
  REQUIRE(a.write(image, 0, bytes(1u << 20, 61)));
  REQUIRE(a.enable_mirroring(image, MirrorMode::snapshot));
  auto snap = a.create_mirror_snapshot(image);
  REQUIRE(snap);
  CHECK(snap->source_mirror_uuid == uuid(a, world.pool()));
  REQUIRE(b.wait_for_snapshot(image, *snap, in(kFirstSync)));
  check_one_primary(a, b, image);
  // In the namespace of its name, not in the pool's default one.
  auto outside = b.image_exists({world.pool(), "img"});
  REQUIRE(outside);
  CHECK_FALSE(*outside);

  // Roles change as in a pool.
  auto over = storage::planned_role_change(a, b, image, in(120s));
  REQUIRE(over);
  write_and_replicate(b, a, image, 62);
  check_one_primary(b, a, image);
  auto back = storage::planned_role_change(b, a, image, in(120s));
  REQUIRE(back);
  check_one_primary(a, b, image);
  report(world, "namespace: failover " + std::to_string(over->total.count()) + " ms, failback " +
                    std::to_string(back->total.count()) + " ms");
  REQUIRE(a.remove_image(image));  // rbd-mirror removes the copy
}

void scenario_snapshots_are_pruned(MirrorWorld& world) {
  const auto image = synced_image(world, "prune", 36);
  auto& a = world.a();
  auto& b = world.b();
  for (unsigned i = 0; i < 8; ++i) write_and_replicate(a, b, image, 40 + i);
  const auto at_a = image_snapshots(a, image);
  const auto at_b = image_snapshots(b, image);
  report(world, "prune: site-a keeps" + show(at_a));
  report(world, "prune: site-b keeps" + show(at_b));
  // Older snapshots go once the peer has synced a newer one (the real pair may still show the
  // one before for a moment).
  CHECK(at_a.size() <= 2);
  CHECK(at_b.size() <= 2);
  REQUIRE_FALSE(at_b.empty());
  CHECK(at_b.back().complete);
  CHECK(at_b.back().primary_snap_id == at_a.back().id);
}

ImageRole image_role(MirrorStorage& site, const ImageSpec& image) {
  auto info = site.mirror_info(image);
  REQUIRE(info);
  return info->role;
}

std::string image_checksum(MirrorStorage& site, const ImageSpec& image) {
  auto s = site.checksum(image);
  REQUIRE(s);
  return *s;
}

std::vector<MirrorSnapshot> image_snapshots(MirrorStorage& site, const ImageSpec& image) {
  auto s = site.mirror_snapshots(image);
  REQUIRE(s);
  return *s;
}

void check_one_primary(MirrorStorage& primary, MirrorStorage& copy, const ImageSpec& image) {
  CHECK(image_role(primary, image) == ImageRole::primary);
  CHECK(image_role(copy, image) == ImageRole::non_primary);
  CHECK(image_checksum(primary, image) == image_checksum(copy, image));
}

}  // namespace dr::testing
