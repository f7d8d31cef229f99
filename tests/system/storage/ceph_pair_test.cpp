// The storage layer against the real two-cluster pair: peering, mirror pairs for a whole app,
// data arriving byte-identical, planned and disaster role changes, failback round trips, split
// brain, lag and the errors callers decide on. Each test uses its own temporary image names.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "ceph_test_support.hpp"
#include "model/json_io.hpp"
#include "storage/mirror_storage.hpp"
#include "storage/role_change.hpp"

namespace {

using namespace std::chrono_literals;
using dr::Errc;
using dr::storage::ImageRole;
using dr::storage::ImageSpec;
using dr::storage::MirrorMode;
using dr::storage::MirrorStorage;
using dr::storage::Promotion;
using dr::testing::in;

constexpr std::uint64_t kImageBytes = 16u << 20;
constexpr auto kSyncWait = 90s;  // first sync of a new image waits for rbd-mirror to notice it

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// A primary image at `site` with `bytes` written at offset 0, mirrored in snapshot mode.
ImageSpec make_mirrored_image(MirrorStorage& site, const std::string& base, unsigned seed) {
  const ImageSpec image{"rbd", dr::testing::temp_name(base)};
  REQUIRE(site.create_image(image, kImageBytes));
  REQUIRE(site.write(image, 0, dr::testing::test_bytes(4u << 20, seed)));
  REQUIRE(site.enable_mirroring(image, MirrorMode::snapshot));
  return image;
}

// Writes at the primary, takes a mirror snapshot, waits for it at the other site, and checks
// both sites hold the same bytes.
void write_and_replicate(MirrorStorage& primary, MirrorStorage& secondary, const ImageSpec& image,
                         unsigned seed) {
  REQUIRE(primary.write(image, (seed % 3) * (4u << 20), dr::testing::test_bytes(1u << 20, seed)));
  auto snap = primary.create_mirror_snapshot(image);
  REQUIRE(snap);
  REQUIRE(secondary.wait_for_snapshot(image, *snap, in(kSyncWait)));
  auto want = primary.checksum(image);
  auto got = secondary.checksum(image);
  REQUIRE(want);
  REQUIRE(got);
  CHECK(*got == *want);
}

// Both sites, peered, and an image mirrored site-a -> site-b whose first snapshot has arrived.
struct MirroredImage {
  MirroredImage(const std::string& base, unsigned seed) : pair(dr::testing::open_pair()) {
    dr::testing::ensure_peered(pair);
    image = make_mirrored_image(*pair.a, base, seed);
    cleanup.emplace(pair, image);
    write_and_replicate(*pair.a, *pair.b, image, seed + 1);
  }
  dr::testing::CephPair pair;
  ImageSpec image;
  std::optional<dr::testing::ImageCleanup> cleanup;
};

ImageRole role(MirrorStorage& site, const ImageSpec& image) {
  auto info = site.mirror_info(image);
  REQUIRE(info);
  return info->role;
}

TEST_CASE("ceph pair: peering through a bootstrap token makes the sites each other's peer",
          "[ceph]") {
  auto pair = dr::testing::open_pair();
  // A pool of its own, so the test sees peering from nothing whatever ran before.
  const auto pool = dr::testing::temp_name("peering");
  for (const auto* site : {"site-a", "site-b"}) {
    dr::testing::ceph_cli(site, {"osd", "pool", "create", pool, "8", "8"});
    dr::testing::ceph_cli(site, {"osd", "pool", "application", "enable", pool, "rbd"});
  }
  REQUIRE(pair.a->set_site_name("site-a"));
  REQUIRE(pair.b->set_site_name("site-b"));
  auto name = pair.a->site_name();
  REQUIRE(name);
  CHECK(*name == "site-a");

  // No token while the pool does not mirror.
  auto refused = pair.a->create_bootstrap_token(pool);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::failed_precondition);
  CHECK_THAT(refused.error().message, Catch::Contains(pool));

  REQUIRE(pair.a->enable_pool_mirroring(pool));
  REQUIRE(pair.b->enable_pool_mirroring(pool));
  REQUIRE(pair.a->enable_pool_mirroring(pool));  // idempotent
  auto token = pair.a->create_bootstrap_token(pool);
  REQUIRE(token);
  CHECK_FALSE(token->secret.empty());
  REQUIRE(pair.b->import_bootstrap_token(pool, *token, dr::storage::PeerDirection::rx_tx));
  REQUIRE(pair.b->import_bootstrap_token(pool, *token, dr::storage::PeerDirection::rx_tx));

  auto at_b = pair.b->list_peers(pool);
  auto at_a = pair.a->list_peers(pool);
  REQUIRE(at_b);
  REQUIRE(at_a);
  REQUIRE(at_b->size() == 1);
  REQUIRE(at_a->size() == 1);  // rx-tx: the import registered site-b at site-a too
  CHECK(at_b->front().site_name == "site-a");
  CHECK(at_a->front().site_name == "site-b");
  CHECK(at_b->front().direction == dr::storage::PeerDirection::rx_tx);

  auto bad =
      pair.b->import_bootstrap_token(pool, {"not a token"}, dr::storage::PeerDirection::rx_tx);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::invalid_argument);

  REQUIRE(pair.a->remove_peer(pool, at_a->front().uuid));
  REQUIRE(pair.b->remove_peer(pool, at_b->front().uuid));
  auto gone = pair.b->list_peers(pool);
  REQUIRE(gone);
  CHECK(gone->empty());
  REQUIRE(pair.a->disable_pool_mirroring(pool));
  REQUIRE(pair.b->disable_pool_mirroring(pool));
  for (const auto* site : {"site-a", "site-b"})
    dr::testing::ceph_cli(site, {"osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it"});
}

TEST_CASE("ceph pair: an app's replication pairs are enabled and its data arrives byte-identical",
          "[ceph]") {
  auto pair = dr::testing::open_pair();
  dr::testing::ensure_peered(pair);
  std::ifstream in_file(std::string(DR_FIXTURES_DIR) + "/golden/app1.second.json");
  std::stringstream text;
  text << in_file.rdbuf();
  auto second = dr::model::parse_second_description(text.str());
  REQUIRE(second);
  REQUIRE(second->replication.size() >= 2);

  // Temporary names per run: the pair's source/target pools are kept, image names get a suffix.
  const auto suffix = dr::testing::temp_name("t");
  std::vector<ImageSpec> sources, targets;
  std::vector<std::unique_ptr<dr::testing::ImageCleanup>> cleanups;
  unsigned seed = 0;
  for (const auto& p : second->replication) {
    ImageSpec source{p.source.pool, p.source.image + "-" + suffix};
    ImageSpec target{p.target.pool, p.target.image + "-" + suffix};
    REQUIRE(pair.a->create_image(source, kImageBytes));
    cleanups.push_back(std::make_unique<dr::testing::ImageCleanup>(pair, source));
    REQUIRE(pair.a->write(source, 0, dr::testing::test_bytes(2u << 20, ++seed)));
    REQUIRE(pair.a->enable_mirroring(source, p.mode == dr::model::ReplicationMode::journal
                                                 ? MirrorMode::journal
                                                 : MirrorMode::snapshot));
    REQUIRE(pair.a->enable_mirroring(source, MirrorMode::snapshot));  // idempotent
    sources.push_back(source);
    targets.push_back(target);
  }
  const auto t0 = Clock::now();
  std::vector<dr::storage::MirrorSnapshotRef> snaps;
  for (const auto& s : sources) {
    auto snap = pair.a->create_mirror_snapshot(s);
    REQUIRE(snap);
    snaps.push_back(*snap);
  }
  for (std::size_t i = 0; i < sources.size(); ++i) {
    // drpair's pairs keep pool and name (the golden file maps rbd -> rbd).
    REQUIRE(targets[i] == sources[i]);
    REQUIRE(pair.b->wait_for_snapshot(targets[i], snaps[i], in(kSyncWait)));
    CHECK(role(*pair.b, targets[i]) == ImageRole::non_primary);
    auto want = pair.a->checksum(sources[i]);
    auto got = pair.b->checksum(targets[i]);
    REQUIRE(want);
    REQUIRE(got);
    CHECK(*got == *want);
  }
  std::printf("app1: %zu images enabled and first synced in %.1f s\n", sources.size(),
              seconds_since(t0));

  // Lag is read at the copy; the primary refuses.
  auto lag = pair.b->replication_lag(targets[0]);
  REQUIRE(lag);
  REQUIRE(lag->newest_synced);
  CHECK(*lag->newest_synced == snaps[0]);
  CHECK(lag->age < 120s);
  auto lag_at_primary = pair.a->replication_lag(sources[0]);
  REQUIRE_FALSE(lag_at_primary);
  CHECK(lag_at_primary.error().code == Errc::failed_precondition);

  // rbd-mirror's status lags, so it is polled (bounded) until some site reports replaying.
  bool replaying = false;
  for (const auto deadline = in(60s); !replaying && Clock::now() < deadline;) {
    auto status = pair.a->mirror_status(sources[0]);
    REQUIRE(status);
    CHECK(status->info.role == ImageRole::primary);
    replaying = status->up_and_replaying();
    if (!replaying) std::this_thread::sleep_for(500ms);
  }
  CHECK(replaying);
}

TEST_CASE(
    "ceph pair: planned failover and failback keep one primary and replicate both ways, several "
    "round trips in a row",
    "[ceph]") {
  MirroredImage fixture("roundtrip", 1);
  auto& pair = fixture.pair;
  const auto& image = fixture.image;

  for (int round = 1; round <= 3; ++round) {
    auto over = dr::storage::planned_role_change(*pair.a, *pair.b, image, in(120s));
    REQUIRE(over);
    CHECK(role(*pair.a, image) == ImageRole::non_primary);
    CHECK(role(*pair.b, image) == ImageRole::primary);
    CHECK(over->reverse_protected);
    write_and_replicate(*pair.b, *pair.a, image, 10 + round);

    auto back = dr::storage::planned_role_change(*pair.b, *pair.a, image, in(120s));
    REQUIRE(back);
    CHECK(role(*pair.a, image) == ImageRole::primary);
    CHECK(role(*pair.b, image) == ImageRole::non_primary);
    CHECK(back->reverse_protected);
    write_and_replicate(*pair.a, *pair.b, image, 20 + round);
    std::printf("round trip %d: failover %.1f s, failback %.1f s\n", round,
                over->total.count() / 1000.0, back->total.count() / 1000.0);
  }

  // Calling again when the change is done changes nothing.
  auto again = dr::storage::planned_role_change(*pair.b, *pair.a, image, in(60s));
  REQUIRE(again);
  CHECK(again->steps.size() == 1);
  CHECK(role(*pair.a, image) == ImageRole::primary);
}

TEST_CASE("ceph pair: a planned promote never runs before the demotion snapshot is complete here",
          "[ceph]") {
  MirroredImage fixture("guard", 3);
  auto& pair = fixture.pair;
  const auto& image = fixture.image;

  auto busy = pair.b->promote(image, Promotion::planned);
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == Errc::failed_precondition);

  // A large change so the demotion snapshot takes a moment to copy.
  REQUIRE(pair.a->write(image, 0, dr::testing::test_bytes(kImageBytes, 5)));
  auto demotion = pair.a->demote(image);
  REQUIRE(demotion);
  int refused = 0;
  for (const auto deadline = in(60s);;) {
    auto p = pair.b->promote(image, Promotion::planned);
    if (p) break;
    CHECK(p.error().code == Errc::failed_precondition);
    ++refused;
    REQUIRE(Clock::now() < deadline);
    std::this_thread::sleep_for(50ms);
  }
  // It went through only with the demotion complete here.
  auto snaps = pair.b->mirror_snapshots(image);
  REQUIRE(snaps);
  bool have_demotion = false;
  for (const auto& s : *snaps) have_demotion |= s.copies(*demotion) && s.complete;
  CHECK(have_demotion);
  std::printf("planned promote refused %d times before the demotion arrived\n", refused);
  auto want = pair.b->checksum(image);
  auto got = pair.a->checksum(image);
  REQUIRE(want);
  REQUIRE(got);
  CHECK(*want == *got);
}

TEST_CASE("ceph pair: a failback stalled by demoting the new primary too early is recovered",
          "[ceph]") {
  MirroredImage fixture("stall", 6);
  auto& pair = fixture.pair;
  const auto& image = fixture.image;

  // Fail over without waiting for reverse protection, then demote the new primary at once:
  // the sequence that stalled failbacks (site-a's replayer has not copied anything from site-b).
  auto over = dr::storage::planned_role_change(*pair.a, *pair.b, image, in(120s),
                                               {.wait_reverse_protection = false});
  REQUIRE(over);
  REQUIRE(pair.b->write(image, 0, dr::testing::test_bytes(1u << 20, 8)));
  REQUIRE(pair.b->demote(image));

  auto back = dr::storage::planned_role_change(*pair.b, *pair.a, image, in(180s));
  REQUIRE(back);
  std::printf("stalled failback: recovered_stall=%d, %.1f s\n", back->recovered_stall ? 1 : 0,
              back->total.count() / 1000.0);
  CHECK(role(*pair.a, image) == ImageRole::primary);
  CHECK(role(*pair.b, image) == ImageRole::non_primary);
  // Nothing site-b wrote while primary is lost, and replication runs a -> b again.
  write_and_replicate(*pair.a, *pair.b, image, 9);
}

TEST_CASE(
    "ceph pair: disaster failover: forced promote with site-a down, split brain after its return "
    "is "
    "resolved by resync",
    "[ceph]") {
  MirroredImage fixture("disaster", 10);
  auto& pair = fixture.pair;
  const auto& image = fixture.image;
  auto synced = pair.b->checksum(image);
  REQUIRE(synced);
  // Written at site-a after the last snapshot: lost with the site, as a disaster loses it.
  REQUIRE(pair.a->write(image, 0, dr::testing::test_bytes(1u << 20, 12)));

  pair.a.reset();
  dr::testing::pair_script({"stop-site", "site-a", "--kill"});
  const auto t0 = Clock::now();
  auto forced = pair.b->promote(image, Promotion::forced);
  const double promote_s = seconds_since(t0);
  REQUIRE(forced);
  CHECK(promote_s < 60);
  CHECK(role(*pair.b, image) == ImageRole::primary);
  auto at_b = pair.b->checksum(image);
  REQUIRE(at_b);
  CHECK(*at_b == *synced);
  REQUIRE(pair.b->write(image, 8u << 20, dr::testing::test_bytes(1u << 20, 13)));

  const auto t1 = Clock::now();
  dr::testing::pair_script({"start-site", "site-a"});
  const double restart_s = seconds_since(t1);
  pair.a = dr::testing::open_site("site-a");

  // Both primary: the role change refuses and names the split brain.
  auto a_side = dr::storage::observe_side(*pair.a, image);
  auto b_side = dr::storage::observe_side(*pair.b, image);
  REQUIRE(a_side);
  REQUIRE(b_side);
  auto first = dr::storage::first_step(*b_side, *a_side, "test");
  REQUIRE_FALSE(first);
  CHECK(first.error().code == Errc::failed_precondition);
  CHECK_THAT(first.error().message, Catch::Contains("split brain"));

  const auto t2 = Clock::now();
  REQUIRE(dr::storage::reprotect_pair(*pair.b, *pair.a, image, in(180s)));
  const double resync_s = seconds_since(t2);
  CHECK(role(*pair.a, image) == ImageRole::non_primary);
  CHECK(role(*pair.b, image) == ImageRole::primary);
  auto want = pair.b->checksum(image);
  auto got = pair.a->checksum(image);
  REQUIRE(want);
  REQUIRE(got);
  CHECK(*got == *want);
  std::printf("disaster: forced promote %.1f s, site-a restart %.1f s, split-brain resync %.1f s\n",
              promote_s, restart_s, resync_s);

  // And back home, planned.
  auto back = dr::storage::planned_role_change(*pair.b, *pair.a, image, in(180s));
  REQUIRE(back);
  CHECK(role(*pair.a, image) == ImageRole::primary);
}

TEST_CASE("ceph pair: errors name the image and tell the caller what is wrong", "[ceph]") {
  auto pair = dr::testing::open_pair();
  dr::testing::ensure_peered(pair);

  const ImageSpec missing{"rbd", dr::testing::temp_name("missing")};
  auto info = pair.a->mirror_info(missing);
  REQUIRE_FALSE(info);
  CHECK(info.error().code == Errc::not_found);
  CHECK_THAT(info.error().message, Catch::Contains("rbd/" + missing.image));
  auto promote_missing = pair.b->promote(missing, Promotion::forced);
  REQUIRE_FALSE(promote_missing);
  CHECK(promote_missing.error().code == Errc::not_found);

  auto no_pool = pair.a->mirror_info({"no-such-pool", "x"});
  REQUIRE_FALSE(no_pool);
  CHECK(no_pool.error().code == Errc::not_found);
  CHECK_THAT(no_pool.error().message, Catch::Contains("no-such-pool"));

  // A pool without mirroring.
  const auto pool = dr::testing::temp_name("plain");
  dr::testing::ceph_cli("site-a", {"osd", "pool", "create", pool, "8", "8"});
  dr::testing::ceph_cli("site-a", {"osd", "pool", "application", "enable", pool, "rbd"});
  const ImageSpec plain{pool, "img"};
  REQUIRE(pair.a->create_image(plain, 1u << 20));
  auto dup = pair.a->create_image(plain, 1u << 20);
  REQUIRE_FALSE(dup);
  CHECK(dup.error().code == Errc::already_exists);
  auto no_mirroring = pair.a->enable_mirroring(plain, MirrorMode::snapshot);
  REQUIRE_FALSE(no_mirroring);
  CHECK(no_mirroring.error().code == Errc::failed_precondition);
  CHECK_THAT(no_mirroring.error().message, Catch::Contains(pool));
  auto not_mirrored = pair.a->create_mirror_snapshot(plain);
  REQUIRE_FALSE(not_mirrored);
  CHECK(not_mirrored.error().code == Errc::failed_precondition);
  dr::testing::ceph_cli("site-a",
                        {"osd", "pool", "rm", pool, pool, "--yes-i-really-really-mean-it"});

  // Role errors on a mirrored pair.
  const auto image = make_mirrored_image(*pair.a, "errors", 14);
  dr::testing::ImageCleanup cleanup(pair, image);
  auto snap = pair.a->create_mirror_snapshot(image);
  REQUIRE(snap);
  REQUIRE(pair.b->wait_for_snapshot(image, *snap, in(kSyncWait)));
  auto already = pair.a->promote(image, Promotion::planned);
  REQUIRE_FALSE(already);
  CHECK(already.error().code == Errc::failed_precondition);
  CHECK_THAT(already.error().message, Catch::Contains("already primary"));
  auto snap_at_copy = pair.b->create_mirror_snapshot(image);
  REQUIRE_FALSE(snap_at_copy);
  CHECK(snap_at_copy.error().code == Errc::failed_precondition);
  auto write_at_copy = pair.b->write(image, 0, dr::testing::test_bytes(4096, 1));
  REQUIRE_FALSE(write_at_copy);
  CHECK(write_at_copy.error().code == Errc::failed_precondition);
  auto demote_copy = pair.b->demote(image);
  REQUIRE_FALSE(demote_copy);
  CHECK(demote_copy.error().code == Errc::failed_precondition);
  auto resync_primary = pair.a->resync(image);
  REQUIRE_FALSE(resync_primary);
  CHECK(resync_primary.error().code == Errc::failed_precondition);
  auto disable_copy = pair.b->disable_mirroring(image, false);
  REQUIRE_FALSE(disable_copy);
  CHECK(disable_copy.error().code == Errc::failed_precondition);
  // A wait that cannot succeed ends at its deadline with the kind that says so.
  auto never =
      pair.b->wait_for_snapshot(image, {snap->source_mirror_uuid, snap->snap_id + 1000}, in(1s));
  REQUIRE_FALSE(never);
  CHECK(never.error().code == Errc::deadline_exceeded);
}

TEST_CASE("ceph pair: journal mode is an option of a pair", "[ceph]") {
  auto pair = dr::testing::open_pair();
  dr::testing::ensure_peered(pair);
  const ImageSpec image{"rbd", dr::testing::temp_name("journal")};
  REQUIRE(pair.a->create_image(image, 4u << 20));
  dr::testing::ImageCleanup cleanup(pair, image);
  REQUIRE(pair.a->enable_mirroring(image, MirrorMode::journal));
  auto info = pair.a->mirror_info(image);
  REQUIRE(info);
  CHECK(info->mode == MirrorMode::journal);
  CHECK(info->role == ImageRole::primary);
  auto other_mode = pair.a->enable_mirroring(image, MirrorMode::snapshot);
  REQUIRE_FALSE(other_mode);
  CHECK(other_mode.error().code == Errc::failed_precondition);
  auto snap = pair.a->create_mirror_snapshot(image);
  REQUIRE_FALSE(snap);
  CHECK(snap.error().code == Errc::invalid_argument);
  REQUIRE(pair.a->disable_mirroring(image, false));
  REQUIRE(pair.a->disable_mirroring(image, false));  // idempotent
  CHECK(role(*pair.a, image) == ImageRole::not_mirrored);
}

}  // namespace

TEST_CASE("ceph pair: a replica's HEAD copies into a plain image with the replicated data, thin",
          "[ceph][drill]") {
  MirroredImage m("copy", 40);
  auto& b = *m.pair.b;
  const ImageSpec copy{m.image.pool, m.image.image + "-drill"};
  dr::testing::ImageCleanup copy_cleanup(m.pair, copy);
  // The replica's newest mirror snapshot is complete (write_and_replicate waited for it).
  auto snaps = b.mirror_snapshots(m.image);
  REQUIRE(snaps);
  REQUIRE_FALSE(snaps->empty());
  CHECK(snaps->back().complete);
  const auto t0 = Clock::now();
  auto bytes = b.copy_image(m.image, copy, {});
  REQUIRE(bytes);
  std::printf("copy of a 16 MiB replica with 5 MiB written: %llu bytes in %.2f s\n",
              static_cast<unsigned long long>(*bytes), seconds_since(t0));
  // Exactly what was written (4 MiB at 0, then 1 MiB at some offset), not the whole 16 MiB.
  CHECK(*bytes >= 4u << 20);
  CHECK(*bytes <= 5u << 20);
  auto size = b.image_size(copy);
  REQUIRE(size);
  CHECK(*size == kImageBytes);
  CHECK(*b.checksum(copy) == *m.pair.a->checksum(m.image));
  CHECK(role(b, copy) == ImageRole::not_mirrored);
  // Writable, unlike the replica; the replica is untouched.
  REQUIRE(b.write(copy, 0, dr::testing::test_bytes(4096, 99)));
  CHECK(*b.checksum(m.image) == *m.pair.a->checksum(m.image));
  CHECK(role(b, m.image) == ImageRole::non_primary);

  // A copy onto an image that exists is refused, and the image is left alone.
  const auto before = *b.checksum(copy);
  auto again = b.copy_image(m.image, copy, {});
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::already_exists);
  CHECK(*b.checksum(copy) == before);
  // A stopped copy removes what it made.
  std::stop_source stop;
  stop.request_stop();
  const ImageSpec stopped{m.image.pool, m.image.image + "-stopped"};
  dr::testing::ImageCleanup stopped_cleanup(m.pair, stopped);
  auto aborted = b.copy_image(m.image, stopped, stop.get_token());
  REQUIRE_FALSE(aborted);
  CHECK(aborted.error().code == Errc::aborted);
  CHECK_FALSE(*b.image_exists(stopped));
  // No such source.
  auto missing = b.copy_image({"rbd", dr::testing::temp_name("none")}, stopped, {});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}
