// The two-site mirroring model (support/two_site_mirror.hpp): first the scenarios that also run
// against the real Ceph pair (system/storage/mirror_scenarios_ceph_test.cpp), then each rule of
// the model on its own, its fault injection, and a fault sweep over planned_role_change.
#include "support/two_site_mirror.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "storage/role_change.hpp"
#include "support/mirror_scenarios.hpp"

namespace {

using namespace std::chrono_literals;
using dr::Errc;
using dr::storage::ImageRole;
using dr::storage::ImageSpec;
using dr::storage::MirrorMode;
using dr::storage::MirrorSnapshotState;
using dr::storage::MirrorStorage;
using dr::storage::Promotion;
using dr::testing::image_checksum;
using dr::testing::image_role;
using dr::testing::image_snapshots;
using dr::testing::MirrorOp;
using dr::testing::TwoSiteMirror;
using Clock = std::chrono::steady_clock;

dr::storage::Deadline in(std::chrono::seconds s) { return Clock::now() + s; }

// The scenarios' world over the model: pool "rbd" mirrored and peered rx-tx, as the real pair's
// tests set it up (ceph_test_support.cpp, ensure_peered).
class ModelWorld final : public dr::testing::MirrorWorld {
 public:
  explicit ModelWorld(dr::testing::TwoSiteMirrorOptions options = {}) : mirror(std::move(options)) {
    auto& sa = mirror.site_a();
    auto& sb = mirror.site_b();
    REQUIRE(sa.enable_pool_mirroring("rbd"));
    REQUIRE(sb.enable_pool_mirroring("rbd"));
    REQUIRE(sa.set_site_name("site-a"));
    REQUIRE(sb.set_site_name("site-b"));
    auto token = sa.create_bootstrap_token("rbd");
    REQUIRE(token);
    REQUIRE(sb.import_bootstrap_token("rbd", *token, dr::storage::PeerDirection::rx_tx));
  }

  MirrorStorage& a() override { return mirror.site_a(); }
  MirrorStorage& b() override { return mirror.site_b(); }
  std::string pool() override { return "rbd"; }
  ImageSpec new_image(const std::string& base) override {
    return {"rbd", base + "-" + std::to_string(++names_)};
  }
  std::string new_pool(const std::string& base) override {
    const auto name = base + "-" + std::to_string(++names_);
    mirror.add_pool("site-a", name);
    mirror.add_pool("site-b", name);
    return name;
  }
  bool eventually(const std::function<bool()>& condition, std::chrono::seconds) override {
    mirror.replay();
    if (condition()) return true;
    for (int i = 0; i < 3; ++i) {
      mirror.tick();
      if (condition()) return true;
    }
    return false;
  }
  void lose_a() override { mirror.set_up("site-a", false); }
  void restore_a() override { mirror.set_up("site-a", true); }
  bool deterministic() const override { return true; }

  TwoSiteMirror mirror;

 private:
  int names_ = 0;
};

std::vector<std::byte> fill(std::size_t size, unsigned char value) {
  return std::vector<std::byte>(size, std::byte{value});
}

// Each snapshot as "id state complete", to compare histories.
std::vector<std::string> history(MirrorStorage& site, const ImageSpec& image) {
  std::vector<std::string> out;
  for (const auto& s : image_snapshots(site, image))
    out.push_back(std::to_string(s.id) + " " + to_string(s.state) + (s.complete ? " c" : " i"));
  return out;
}

bool holds_complete_copy(MirrorStorage& site, const ImageSpec& image,
                         const dr::storage::MirrorSnapshotRef& ref) {
  for (const auto& s : image_snapshots(site, image))
    if (s.copies(ref) && s.complete) return true;
  return false;
}

std::string statuses(MirrorStorage& site, const ImageSpec& image) {
  auto st = site.mirror_status(image);
  REQUIRE(st);
  std::string out;
  for (const auto& s : st->sites)
    out += std::string("[") + to_string(s.state) + " " + s.description + "]";
  return out;
}

// A 1 MiB image "rbd/img" primary at site-a whose first snapshot is complete at site-b.
struct Synced {
  Synced() {
    REQUIRE(world.a().create_image(image, 1u << 20));
    REQUIRE(world.a().write(image, 0, fill(4096, 1)));
    REQUIRE(world.a().enable_mirroring(image, MirrorMode::snapshot));
    world.mirror.replay();
    REQUIRE(image_checksum(world.b(), image) == image_checksum(world.a(), image));
    world.mirror.clear_calls();
  }
  ModelWorld world;
  ImageSpec image{"rbd", "img"};
  MirrorStorage& a = world.a();
  MirrorStorage& b = world.b();
  TwoSiteMirror& mirror = world.mirror;
};

// ---- the scenarios, as on the real pair

#define DR_MODEL_SCENARIO(name)                                                \
  TEST_CASE("mirror scenario on the model: " #name, "[integration][mirror]") { \
    ModelWorld world;                                                          \
    const auto t0 = Clock::now();                                              \
    dr::testing::scenario_##name(world);                                       \
    CHECK(Clock::now() - t0 < 5s); /* the model neither sleeps nor waits */    \
  }

DR_MODEL_SCENARIO(data_arrives_byte_identical)
DR_MODEL_SCENARIO(planned_promote_waits_for_demotion)
DR_MODEL_SCENARIO(role_change_snapshot_history)
DR_MODEL_SCENARIO(planned_role_change_round_trip)
DR_MODEL_SCENARIO(failback_stall_recovered)
DR_MODEL_SCENARIO(demotion_undone)
DR_MODEL_SCENARIO(forced_promote_with_the_peer_down)
DR_MODEL_SCENARIO(namespace_mirrors_into_its_name)
DR_MODEL_SCENARIO(forced_promote_and_split_brain_recovery)
DR_MODEL_SCENARIO(split_brain_with_both_sites_up)
DR_MODEL_SCENARIO(reprotect_after_planned_change)
DR_MODEL_SCENARIO(resync_copies_again)
DR_MODEL_SCENARIO(disabling_the_primary_removes_the_copy)
DR_MODEL_SCENARIO(peering_a_new_pool)
DR_MODEL_SCENARIO(snapshots_are_pruned)

// ---- the rules, one by one

TEST_CASE("two-site mirror model: a planned promote waits for the peer's complete demotion",
          "[integration][mirror]") {
  Synced f;
  auto busy = f.b.promote(f.image, Promotion::planned);
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == Errc::failed_precondition);
  CHECK_THAT(busy.error().message,
             Catch::Contains("image is primary within a remote cluster or demotion is not "
                             "propagated yet") &&
                 Catch::Contains("rbd/img") && Catch::Contains("promote"));

  auto demotion = f.a.demote(f.image);
  REQUIRE(demotion);
  auto not_copied = f.b.promote(f.image, Promotion::planned);
  REQUIRE_FALSE(not_copied);
  CHECK(not_copied.error().code == Errc::failed_precondition);

  // The copy of the demotion has begun, not finished: still refused.
  f.mirror.begin_copies();
  const auto copying = image_snapshots(f.b, f.image);
  REQUIRE(copying.back().copies(*demotion));
  CHECK_FALSE(copying.back().complete);
  auto incomplete = f.b.promote(f.image, Promotion::planned);
  REQUIRE_FALSE(incomplete);
  CHECK(incomplete.error().code == Errc::failed_precondition);
  CHECK_THAT(incomplete.error().message, Catch::Contains("demotion has not arrived"));

  f.mirror.replay();
  REQUIRE(f.b.promote(f.image, Promotion::planned));
  CHECK(image_role(f.b, f.image) == ImageRole::primary);
}

TEST_CASE("two-site mirror model: the last primary may take the role back without force",
          "[integration][mirror]") {
  Synced f;
  REQUIRE(f.a.demote(f.image));
  // No replay: the peer has seen nothing, and site-a's own demotion is its newest snapshot.
  REQUIRE(f.a.promote(f.image, Promotion::planned));
  CHECK(image_role(f.a, f.image) == ImageRole::primary);
  auto twice = f.a.promote(f.image, Promotion::planned);
  REQUIRE_FALSE(twice);
  CHECK(twice.error().code == Errc::failed_precondition);
  CHECK_THAT(twice.error().message, Catch::Contains("already primary"));
}

TEST_CASE("two-site mirror model: demote returns its demotion snapshot, and only a primary demotes",
          "[integration][mirror]") {
  Synced f;
  auto uuid_a = f.a.mirror_uuid("rbd");
  REQUIRE(uuid_a);
  auto demotion = f.a.demote(f.image);
  REQUIRE(demotion);
  CHECK(demotion->source_mirror_uuid == *uuid_a);
  const auto at_a = image_snapshots(f.a, f.image);
  CHECK(at_a.back().id == demotion->snap_id);
  CHECK(at_a.back().state == MirrorSnapshotState::primary_demoted);
  auto at_copy = f.b.demote(f.image);
  REQUIRE_FALSE(at_copy);
  CHECK(at_copy.error().code == Errc::failed_precondition);
  CHECK_THAT(at_copy.error().message, Catch::Contains("site-b") && Catch::Contains("demote"));
  auto missing = f.a.demote({"rbd", "nope"});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE(
    "two-site mirror model: after a role change the old primary replays only from the next "
    "check",
    "[integration][mirror]") {
  Synced f;
  auto over = dr::storage::planned_role_change(f.a, f.b, f.image, in(120s),
                                               {.wait_reverse_protection = false});
  REQUIRE(over);
  REQUIRE(f.b.write(f.image, 0, fill(4096, 2)));
  auto snap = f.b.create_mirror_snapshot(f.image);
  REQUIRE(snap);
  f.mirror.replay();
  CHECK_FALSE(holds_complete_copy(f.a, f.image, *snap));
  CHECK_THAT(statuses(f.a, f.image), Catch::Contains("stopped"));

  // A wait whose deadline comes before the check runs out at once, saying why.
  const auto t0 = Clock::now();
  auto early = f.a.wait_for_snapshot(f.image, *snap, in(5s));
  CHECK(Clock::now() - t0 < 1s);
  REQUIRE_FALSE(early);
  CHECK(early.error().code == Errc::deadline_exceeded);
  CHECK_THAT(early.error().message, Catch::Contains("next image-state check"));

  f.mirror.tick();
  CHECK(holds_complete_copy(f.a, f.image, *snap));
  CHECK(image_checksum(f.a, f.image) == image_checksum(f.b, f.image));
  // From then on a snapshot arrives on the next replay.
  auto next = f.b.create_mirror_snapshot(f.image);
  REQUIRE(next);
  f.mirror.replay();
  CHECK(holds_complete_copy(f.a, f.image, *next));
}

TEST_CASE("two-site mirror model: a wait that has room for the periodic check runs it",
          "[integration][mirror]") {
  Synced f;
  REQUIRE(dr::storage::planned_role_change(f.a, f.b, f.image, in(120s),
                                           {.wait_reverse_protection = false}));
  auto snap = f.b.create_mirror_snapshot(f.image);
  REQUIRE(snap);
  const auto before = f.mirror.now();
  const auto t0 = Clock::now();
  REQUIRE(f.a.wait_for_snapshot(f.image, *snap, in(60s)));
  CHECK(Clock::now() - t0 < 1s);
  CHECK(f.mirror.now() - before == 30s);  // model time: up to the check, not the deadline

  // With waits_run_ticks off, waits only replay.
  ModelWorld quiet({.waits_run_ticks = false});
  auto& qa = quiet.a();
  auto& qb = quiet.b();
  const ImageSpec image{"rbd", "q"};
  REQUIRE(qa.create_image(image, 1u << 20));
  REQUIRE(qa.enable_mirroring(image, MirrorMode::snapshot));
  quiet.mirror.replay();
  REQUIRE(dr::storage::planned_role_change(qa, qb, image, in(120s),
                                           {.wait_reverse_protection = false}));
  auto q = qb.create_mirror_snapshot(image);
  REQUIRE(q);
  auto no_tick = qa.wait_for_snapshot(image, *q, in(600s));
  REQUIRE_FALSE(no_tick);
  CHECK(no_tick.error().code == Errc::deadline_exceeded);
  quiet.mirror.tick();
  CHECK(holds_complete_copy(qa, image, *q));
}

TEST_CASE(
    "two-site mirror model: the failback stall holds while no side is primary and ends by "
    "re-promoting the last primary",
    "[integration][mirror]") {
  Synced f;
  REQUIRE(dr::storage::planned_role_change(f.a, f.b, f.image, in(120s),
                                           {.wait_reverse_protection = false}));
  REQUIRE(f.b.write(f.image, 0, fill(8192, 3)));
  auto demotion_b = f.b.demote(f.image);
  REQUIRE(demotion_b);
  const auto a_before = history(f.a, f.image);
  for (int i = 0; i < 3; ++i) {
    f.mirror.tick();
    CHECK_THAT(statuses(f.a, f.image), Catch::Contains("remote image is not primary"));
  }
  CHECK(history(f.a, f.image) == a_before);
  CHECK_FALSE(holds_complete_copy(f.a, f.image, *demotion_b));
  // A wait in the stall runs out at once: nothing can change it.
  const auto t0 = Clock::now();
  auto stuck = f.a.wait_for_snapshot(f.image, *demotion_b, in(300s));
  CHECK(Clock::now() - t0 < 1s);
  REQUIRE_FALSE(stuck);
  CHECK(stuck.error().code == Errc::deadline_exceeded);
  CHECK_THAT(stuck.error().message, Catch::Contains("remote image is not primary"));

  // site-b was primary last: it takes the role back without force, and after the next check its
  // snapshots flow to site-a again.
  REQUIRE(f.b.promote(f.image, Promotion::planned));
  auto snap = f.b.create_mirror_snapshot(f.image);
  REQUIRE(snap);
  f.mirror.replay();
  CHECK_FALSE(holds_complete_copy(f.a, f.image, *snap));
  f.mirror.tick();
  CHECK(holds_complete_copy(f.a, f.image, *snap));
  CHECK(image_checksum(f.a, f.image) == image_checksum(f.b, f.image));
  auto back = dr::storage::planned_role_change(f.b, f.a, f.image, in(120s));
  REQUIRE(back);
  CHECK_FALSE(back->recovered_stall);
  CHECK(image_role(f.a, f.image) == ImageRole::primary);
}

TEST_CASE(
    "two-site mirror model: a resync does not end the failback stall while no side is "
    "primary",
    "[integration][mirror]") {
  Synced f;
  REQUIRE(dr::storage::planned_role_change(f.a, f.b, f.image, in(120s),
                                           {.wait_reverse_protection = false}));
  REQUIRE(f.b.write(f.image, 0, fill(8192, 6)));
  REQUIRE(f.b.demote(f.image));
  REQUIRE(f.a.resync(f.image));
  const auto before = history(f.a, f.image);
  f.mirror.tick();
  f.mirror.tick();
  CHECK(history(f.a, f.image) == before);
  CHECK_THAT(statuses(f.a, f.image), Catch::Contains("remote image is not primary"));
  // With site-b primary again the resync goes ahead at the next check.
  REQUIRE(f.b.promote(f.image, Promotion::planned));
  f.mirror.tick();
  CHECK(image_checksum(f.a, f.image) == image_checksum(f.b, f.image));
  CHECK(image_role(f.a, f.image) == ImageRole::non_primary);
}

TEST_CASE("two-site mirror model: a site that is down answers nothing and is not replicated",
          "[integration][mirror]") {
  Synced f;
  REQUIRE(f.a.write(f.image, 0, fill(4096, 4)));
  auto snap = f.a.create_mirror_snapshot(f.image);
  REQUIRE(snap);
  f.mirror.set_up("site-a", false);
  CHECK_FALSE(f.mirror.is_up("site-a"));
  auto info = f.a.mirror_info(f.image);
  REQUIRE_FALSE(info);
  CHECK(info.error().code == Errc::unavailable);
  CHECK_THAT(info.error().message, Catch::Contains("site-a") && Catch::Contains("mirror_info") &&
                                       Catch::Contains("rbd/img"));
  auto pools = f.a.list_pools();
  REQUIRE_FALSE(pools);
  CHECK(pools.error().code == Errc::unavailable);

  // Nothing comes from a lost site, and the wait knows it cannot.
  const auto t0 = Clock::now();
  auto wait = f.b.wait_for_snapshot(f.image, *snap, in(300s));
  CHECK(Clock::now() - t0 < 1s);
  REQUIRE_FALSE(wait);
  CHECK(wait.error().code == Errc::deadline_exceeded);
  CHECK_THAT(wait.error().message, Catch::Contains("site-a is down"));

  // A forced promote works without the peer.
  REQUIRE(f.b.promote(f.image, Promotion::forced));
  CHECK(image_role(f.b, f.image) == ImageRole::primary);
  auto lag = f.b.replication_lag(f.image);
  REQUIRE_FALSE(lag);
  CHECK(lag.error().code == Errc::failed_precondition);

  // Back with its data and its role: both primary, and neither copies the other.
  f.mirror.set_up("site-a", true);
  CHECK(image_role(f.a, f.image) == ImageRole::primary);
  // Both primary is no split brain to rbd-mirror (as on the real pair): each reports its own.
  auto status = f.b.mirror_status(f.image);
  REQUIRE(status);
  CHECK_FALSE(status->split_brain());
  CHECK_THAT(statuses(f.b, f.image), Catch::Contains("stopped local image is primary"));
  const auto a_snaps = image_snapshots(f.a, f.image);
  const auto b_snaps = image_snapshots(f.b, f.image);
  REQUIRE(f.b.create_mirror_snapshot(f.image));
  REQUIRE(f.a.create_mirror_snapshot(f.image));
  f.mirror.tick();
  CHECK(image_snapshots(f.a, f.image).size() == a_snaps.size() + 1);
  CHECK(image_snapshots(f.b, f.image).size() == b_snaps.size() + 1);
}

TEST_CASE("two-site mirror model: a forced promote with the peer up is a split brain",
          "[integration][mirror]") {
  Synced f;
  REQUIRE(f.b.promote(f.image, Promotion::forced));
  CHECK(image_role(f.a, f.image) == ImageRole::primary);
  CHECK(image_role(f.b, f.image) == ImageRole::primary);
  auto status = f.a.mirror_status(f.image);
  REQUIRE(status);
  CHECK_FALSE(status->split_brain());
  REQUIRE(f.a.write(f.image, 0, fill(4096, 5)));
  auto snap = f.a.create_mirror_snapshot(f.image);
  REQUIRE(snap);
  f.mirror.tick();
  CHECK_FALSE(holds_complete_copy(f.b, f.image, *snap));
  CHECK(image_checksum(f.a, f.image) != image_checksum(f.b, f.image));

  // The loser demoted but not resynced: its replayer finds no matching snapshot.
  REQUIRE(f.b.demote(f.image));
  f.mirror.tick();
  CHECK_THAT(statuses(f.b, f.image), Catch::Contains("split-brain"));
  CHECK(image_checksum(f.a, f.image) != image_checksum(f.b, f.image));
  REQUIRE(dr::storage::reprotect_pair(f.a, f.b, f.image, in(180s)));
  CHECK(image_checksum(f.a, f.image) == image_checksum(f.b, f.image));
  CHECK(image_role(f.b, f.image) == ImageRole::non_primary);
}

TEST_CASE("reprotect after a disaster says what the returning site's resync discarded",
          "[integration][mirror]") {
  Synced f;
  // The last snapshot the DR site got before the disaster, as the failover records it.
  REQUIRE(f.a.write(f.image, 0, fill(4096, 2)));
  auto replicated = f.a.create_mirror_snapshot(f.image);
  REQUIRE(replicated);
  REQUIRE(f.b.wait_for_snapshot(f.image, *replicated, in(60s)));
  auto lag = f.b.replication_lag(f.image);
  REQUIRE(lag);
  REQUIRE(lag->newest_synced);
  const auto had = *lag->newest_synced;
  // Site-a takes writes the DR site never gets, then is lost; the DR site promotes by force.
  f.mirror.set_up("site-b", false);
  REQUIRE(f.a.write(f.image, 0, fill(4096, 3)));
  REQUIRE(f.a.create_mirror_snapshot(f.image));
  f.mirror.set_up("site-b", true);
  f.mirror.set_up("site-a", false);
  REQUIRE(f.b.promote(f.image, Promotion::forced));
  f.mirror.set_up("site-a", true);
  REQUIRE(f.a.demote(f.image));  // the returning site's fence

  auto report = dr::storage::reprotect_pair(f.b, f.a, f.image, in(180s), had);
  REQUIRE(report);
  CHECK(report->resynced);
  REQUIRE(report->discarded);
  CHECK(report->discarded->unreplicated_snapshots == 1);  // the one after `had`
  CHECK(report->discarded->last_replicated_at.has_value());
  CHECK(report->discarded->newest_unreplicated_at.has_value());
  CHECK(report->discarded->demoted_at.has_value());
  CHECK(image_checksum(f.a, f.image) == image_checksum(f.b, f.image));
  CHECK(image_role(f.a, f.image) == ImageRole::non_primary);
  // Resumed or asked again, there is nothing more to do.
  auto again = dr::storage::reprotect_pair(f.b, f.a, f.image, in(60s), had);
  REQUIRE(again);
  CHECK_FALSE(again->resynced);
}

TEST_CASE("two-site mirror model: a non-primary copy is read-only but readable",
          "[integration][mirror]") {
  Synced f;
  auto w = f.b.write(f.image, 0, fill(16, 9));
  REQUIRE_FALSE(w);
  CHECK(w.error().code == Errc::failed_precondition);
  CHECK_THAT(w.error().message, Catch::Contains("rbd/img") && Catch::Contains("write"));
  auto s = f.b.create_mirror_snapshot(f.image);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::failed_precondition);
  auto size = f.b.image_size(f.image);
  REQUIRE(size);
  CHECK(*size == 1u << 20);
  CHECK(f.b.checksum(f.image));
  auto beyond = f.a.write(f.image, (1u << 20) - 8, fill(16, 1));
  REQUIRE_FALSE(beyond);
  CHECK(beyond.error().code == Errc::invalid_argument);
}

TEST_CASE("two-site mirror model: resync throws the copy away and copies the primary again",
          "[integration][mirror]") {
  Synced f;
  for (unsigned char v = 10; v < 13; ++v) {
    REQUIRE(f.a.write(f.image, v * 4096u, fill(4096, v)));
    REQUIRE(f.a.create_mirror_snapshot(f.image));
  }
  f.mirror.replay();
  const auto old = image_snapshots(f.b, f.image);
  REQUIRE(f.b.resync(f.image));
  CHECK(image_snapshots(f.b, f.image).size() == old.size());  // nothing until rbd-mirror acts
  f.mirror.replay();
  const auto fresh = image_snapshots(f.b, f.image);
  REQUIRE_FALSE(fresh.empty());
  for (const auto& s : fresh)
    for (const auto& o : old) CHECK(s.id != o.id);
  CHECK(image_checksum(f.b, f.image) == image_checksum(f.a, f.image));
  auto at_primary = f.a.resync(f.image);
  REQUIRE_FALSE(at_primary);
  CHECK(at_primary.error().code == Errc::failed_precondition);
}

TEST_CASE("two-site mirror model: the copy holds the primary's data as of the snapshot",
          "[integration][mirror]") {
  Synced f;
  REQUIRE(f.a.write(f.image, 100, fill(5000, 7)));  // across a block boundary or not: any range
  auto first = f.a.create_mirror_snapshot(f.image);
  REQUIRE(first);
  const auto as_of_first = image_checksum(f.a, f.image);
  REQUIRE(f.a.write(f.image, 70000, fill(100, 8)));
  f.mirror.replay();
  CHECK(image_checksum(f.b, f.image) == as_of_first);
  CHECK(image_checksum(f.a, f.image) != as_of_first);
  // Equal contents, equal sums, however written: zeros written equal zeros never written.
  REQUIRE(f.a.write(f.image, 70000, fill(100, 0)));
  CHECK(image_checksum(f.a, f.image) == as_of_first);
}

TEST_CASE("two-site mirror model: pools, peers and mirror uuids", "[integration][mirror]") {
  ModelWorld world;
  auto& a = world.a();
  auto& b = world.b();
  auto ua = a.mirror_uuid("rbd");
  auto ub = b.mirror_uuid("rbd");
  REQUIRE(ua);
  REQUIRE(ub);
  CHECK(*ua != *ub);
  auto peers = b.list_peers("rbd");
  REQUIRE(peers);
  REQUIRE(peers->size() == 1);
  CHECK(peers->front().mirror_uuid == *ua);
  CHECK(peers->front().site_name == "site-a");

  // A token is not for its own cluster, and an import needs the peer to answer.
  auto token = a.create_bootstrap_token("rbd");
  REQUIRE(token);
  auto own = a.import_bootstrap_token("rbd", *token, dr::storage::PeerDirection::rx_tx);
  REQUIRE_FALSE(own);
  CHECK(own.error().code == Errc::invalid_argument);
  world.mirror.set_up("site-a", false);
  auto unreachable = b.import_bootstrap_token("rbd", *token, dr::storage::PeerDirection::rx_tx);
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().code == Errc::unavailable);
  world.mirror.set_up("site-a", true);

  auto missing = a.enable_pool_mirroring("nope");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  auto listed = a.list_pools();
  REQUIRE(listed);
  REQUIRE(listed->size() == 1);
  CHECK(listed->front().name == "rbd");

  // A copy appears at the peer only when rbd-mirror runs, and goes when the primary goes.
  const ImageSpec image{"rbd", "x"};
  REQUIRE(a.create_image(image, 1u << 20));
  REQUIRE(a.enable_mirroring(image, MirrorMode::snapshot));
  auto exists = b.image_exists(image);
  REQUIRE(exists);
  CHECK_FALSE(*exists);
  world.mirror.replay();
  exists = b.image_exists(image);
  REQUIRE(exists);
  CHECK(*exists);
  auto other_mode = a.enable_mirroring(image, MirrorMode::journal);
  REQUIRE_FALSE(other_mode);
  CHECK(other_mode.error().code == Errc::failed_precondition);
  REQUIRE(a.remove_image(image));
  world.mirror.replay();
  exists = b.image_exists(image);
  REQUIRE(exists);
  CHECK_FALSE(*exists);

  // Without the peer, nothing is pulled any more.
  REQUIRE(b.remove_peer("rbd", peers->front().uuid));
  const ImageSpec later{"rbd", "y"};
  REQUIRE(a.create_image(later, 1u << 20));
  REQUIRE(a.enable_mirroring(later, MirrorMode::snapshot));
  world.mirror.replay();
  exists = b.image_exists(later);
  REQUIRE(exists);
  CHECK_FALSE(*exists);
}

TEST_CASE("two-site mirror model: journal mode keeps its roles and takes no mirror snapshots",
          "[integration][mirror]") {
  ModelWorld world;
  const ImageSpec image{"rbd", "j"};
  REQUIRE(world.a().create_image(image, 1u << 20));
  REQUIRE(world.a().enable_mirroring(image, MirrorMode::journal));
  auto snap = world.a().create_mirror_snapshot(image);
  REQUIRE_FALSE(snap);
  CHECK(snap.error().code == Errc::invalid_argument);
  world.mirror.replay();
  CHECK(image_role(world.b(), image) == ImageRole::non_primary);
  auto demotion = world.a().demote(image);
  REQUIRE(demotion);
  CHECK(demotion->snap_id == 0);
  REQUIRE(world.b().promote(image, Promotion::planned));
  CHECK(image_role(world.b(), image) == ImageRole::primary);
}

TEST_CASE("two-site mirror model: lag and status follow the model's clock",
          "[integration][mirror]") {
  Synced f;
  auto snap = f.a.create_mirror_snapshot(f.image);
  REQUIRE(snap);
  const auto taken = f.mirror.now();
  f.mirror.replay();
  f.mirror.advance(10s);
  auto lag = f.b.replication_lag(f.image);
  REQUIRE(lag);
  REQUIRE(lag->newest_synced);
  CHECK(*lag->newest_synced == *snap);
  CHECK(lag->synced_as_of == taken);
  CHECK(lag->age == 10s);

  auto status = f.a.mirror_status(f.image);
  REQUIRE(status);
  CHECK(status->info.role == ImageRole::primary);
  CHECK(status->up_and_replaying());
  CHECK_FALSE(status->split_brain());
  REQUIRE(status->last_sync);
  CHECK(*status->last_sync == taken);
  REQUIRE(status->sites.size() == 2);
  CHECK(status->sites[0].mirror_uuid.empty());
  CHECK(status->sites[1].site_name == "site-b");
  CHECK_THAT(status->sites[1].description, Catch::StartsWith("replaying"));

  // Ticks fall due as the clock moves: 30 s apart.
  f.mirror.advance(100s);
  CHECK(f.mirror.now() - taken == 110s);
}

TEST_CASE("two-site mirror model: fail_next fails a call before or after it takes effect",
          "[integration][mirror]") {
  Synced f;
  f.mirror.fail_next("site-a", MirrorOp::demote, "rbd/img", Errc::unavailable, false);
  f.mirror.fail_next("site-b", MirrorOp::demote, "", Errc::internal, false);
  CHECK(f.mirror.pending_faults() == 2);
  auto before = f.a.demote(f.image);
  REQUIRE_FALSE(before);
  CHECK(before.error().code == Errc::unavailable);
  CHECK_THAT(before.error().message, Catch::Contains("injected") && Catch::Contains("rbd/img"));
  CHECK(image_role(f.a, f.image) == ImageRole::primary);  // nothing happened
  CHECK(f.mirror.pending_faults() == 1);                  // site-b's is still armed

  f.mirror.fail_next("site-a", MirrorOp::demote, "", Errc::unavailable, true);
  auto after = f.a.demote(f.image);
  REQUIRE_FALSE(after);
  CHECK(after.error().code == Errc::unavailable);
  CHECK(image_role(f.a, f.image) == ImageRole::non_primary);  // it happened all the same
  const auto at_a = image_snapshots(f.a, f.image);
  CHECK(at_a.back().state == MirrorSnapshotState::primary_demoted);

  // Another target does not match; the n-th call from now fails whatever it is.
  f.mirror.fail_next("site-a", MirrorOp::checksum, "rbd/other", Errc::internal, false);
  CHECK(f.a.checksum(f.image));
  f.mirror.fail_nth_call(2, Errc::aborted, false);
  CHECK(f.b.mirror_info(f.image));
  auto second = f.b.mirror_snapshots(f.image);
  REQUIRE_FALSE(second);
  CHECK(second.error().code == Errc::aborted);

  CHECK(f.mirror.count("site-a", MirrorOp::demote) == 2);
  CHECK(f.mirror.count("site-a", MirrorOp::demote, "rbd/img") == 2);
  CHECK(f.mirror.count("site-b", MirrorOp::demote) == 0);
  const auto log = f.mirror.calls();
  // demote, mirror_info, demote, mirror_info, mirror_snapshots, checksum at site-a; then
  // mirror_info and mirror_snapshots at site-b.
  REQUIRE(log.size() == 8);
  CHECK(log.front() == dr::testing::MirrorCall{"site-a", MirrorOp::demote, "rbd/img"});
  CHECK(log.back() == dr::testing::MirrorCall{"site-b", MirrorOp::mirror_snapshots, "rbd/img"});
  f.mirror.clear_calls();
  CHECK(f.mirror.calls().empty());
}

// Beast's fail_count loop over a planned role change: cut at call k (before or after its
// effect), call again, and the change completes with one primary and equal data.
TEST_CASE("two-site mirror model: a planned role change cut at any call finishes when called again",
          "[integration][mirror]") {
  std::size_t total = 0;
  {
    Synced clean;
    REQUIRE(dr::storage::planned_role_change(clean.a, clean.b, clean.image, in(120s)));
    total = clean.mirror.calls().size();
  }
  REQUIRE(total > 8);
  for (std::size_t k = 1; k <= total; ++k) {
    for (const bool after : {false, true}) {
      CAPTURE(k, after);
      Synced f;
      f.mirror.fail_nth_call(k, Errc::unavailable, after);
      auto cut = dr::storage::planned_role_change(f.a, f.b, f.image, in(120s));
      CHECK(f.mirror.pending_faults() == 0);
      auto resumed = dr::storage::planned_role_change(f.a, f.b, f.image, in(120s));
      REQUIRE(resumed);
      CHECK(image_role(f.a, f.image) == ImageRole::non_primary);
      CHECK(image_role(f.b, f.image) == ImageRole::primary);
      CHECK(image_checksum(f.a, f.image) == image_checksum(f.b, f.image));
      (void)cut;
    }
  }
}

TEST_CASE("two-site mirror model: calls from several threads at once", "[integration][mirror]") {
  ModelWorld world;
  constexpr int kImages = 4;
  for (int i = 0; i < kImages; ++i) {
    const ImageSpec image{"rbd", "t" + std::to_string(i)};
    REQUIRE(world.a().create_image(image, 1u << 20));
    REQUIRE(world.a().enable_mirroring(image, MirrorMode::snapshot));
  }
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < kImages; ++i) {
    threads.emplace_back([&, i] {
      const ImageSpec image{"rbd", "t" + std::to_string(i)};
      for (int round = 0; round < 50; ++round) {
        const auto data = fill(4096, static_cast<unsigned char>(round + 1));
        if (!world.a().write(image, static_cast<std::uint64_t>(round) * 4096, data)) failed = true;
        auto snap = world.a().create_mirror_snapshot(image);
        if (!snap || !world.b().wait_for_snapshot(image, *snap, in(60s))) failed = true;
      }
    });
  }
  threads.emplace_back([&] {
    for (int round = 0; round < 200; ++round) {
      world.mirror.replay();
      if (round % 50 == 0) world.mirror.tick();
      (void)world.b().mirror_status({"rbd", "t0"});
    }
  });
  for (auto& t : threads) t.join();
  CHECK_FALSE(failed);
  for (int i = 0; i < kImages; ++i) {
    const ImageSpec image{"rbd", "t" + std::to_string(i)};
    CHECK(image_checksum(world.a(), image) == image_checksum(world.b(), image));
  }
}

}  // namespace
