// Where a planned role change starts, decided from what the two sites show
// (storage/role_change.hpp): pure function tests, no Ceph. The histories are those seen on the real
// pair (NOTES: the failback stall), written as snapshot lists.
#include "storage/role_change.hpp"

#include <catch2/catch.hpp>

namespace {

using dr::storage::ImageRole;
using dr::storage::MirrorSnapshot;
using dr::storage::MirrorSnapshotState;
using dr::storage::PairSide;
using dr::storage::RoleChangeStep;
using State = MirrorSnapshotState;

MirrorSnapshot own(std::uint64_t id, State state) {
  MirrorSnapshot s;
  s.id = id;
  s.state = state;
  s.complete = true;
  return s;
}
MirrorSnapshot copy(std::uint64_t id, State state, const std::string& of_uuid, std::uint64_t of_id,
                    bool complete = true) {
  MirrorSnapshot s;
  s.id = id;
  s.state = state;
  s.complete = complete;
  s.primary_mirror_uuid = of_uuid;
  s.primary_snap_id = of_id;
  return s;
}

RoleChangeStep step(const PairSide& from, const PairSide& to) {
  auto r = dr::storage::first_step(from, to, "rbd image 'rbd/x'");
  REQUIRE(r);
  return *r;
}

TEST_CASE("storage role change: a change from a primary starts by proving the peer's replayer runs",
          "[unit][storage]") {
  PairSide a{ImageRole::primary, "A", {own(4, State::primary)}};
  PairSide b{ImageRole::non_primary, "B", {copy(5, State::non_primary, "A", 4)}};
  CHECK(step(a, b) == RoleChangeStep::sync_forward);
}

TEST_CASE(
    "storage role change: a change cut off after the demote resumes by waiting for the demotion",
    "[unit][storage]") {
  PairSide a{ImageRole::non_primary, "A", {own(4, State::primary), own(6, State::primary_demoted)}};
  PairSide b{
      ImageRole::non_primary,
      "B",
      {copy(5, State::non_primary, "A", 4), copy(7, State::non_primary_demoted, "A", 6, false)}};
  CHECK(step(a, b) == RoleChangeStep::await_demotion);
  b.snapshots.back().complete = true;
  CHECK(step(a, b) == RoleChangeStep::await_demotion);  // the wait then returns at once
}

TEST_CASE("storage role change: a change already done needs only reverse protection, or nothing",
          "[unit][storage]") {
  PairSide a{ImageRole::non_primary, "A", {own(6, State::primary_demoted)}};
  PairSide b{ImageRole::primary,
             "B",
             {copy(7, State::non_primary_demoted, "A", 6), own(8, State::primary)}};
  CHECK(step(a, b) == RoleChangeStep::protect_reverse);
  a.snapshots.push_back(copy(9, State::non_primary, "B", 8));
  CHECK(step(a, b) == RoleChangeStep::done);
}

TEST_CASE(
    "storage role change: the stalled failback is recognised and the last primary is promoted "
    "again",
    "[unit][storage]") {
  // a demoted (6), b copied it (7), was promoted (8) and demoted at once (9); a's replayer never
  // copied anything from b. Failback b -> a: b was primary last.
  PairSide a{ImageRole::non_primary, "A", {own(4, State::primary), own(6, State::primary_demoted)}};
  PairSide b{ImageRole::non_primary,
             "B",
             {copy(5, State::non_primary, "A", 4), copy(7, State::non_primary_demoted, "A", 6),
              own(8, State::primary), own(9, State::primary_demoted)}};
  CHECK(step(b, a) == RoleChangeStep::recover_stall);
  // Asked the other way round (make b primary): b holds a's demotion, so the change goes on from
  // there (the wait returns at once) and promotes b, which is simply the end state.
  CHECK(step(a, b) == RoleChangeStep::await_demotion);
}

TEST_CASE(
    "storage role change: split brain and unknown histories are refused with failed_precondition",
    "[unit][storage]") {
  PairSide a{ImageRole::primary, "A", {own(4, State::primary)}};
  PairSide b{ImageRole::primary, "B", {own(4, State::primary)}};
  auto both = dr::storage::first_step(a, b, "x");
  REQUIRE_FALSE(both);
  CHECK(both.error().code == dr::Errc::failed_precondition);
  CHECK_THAT(both.error().message, Catch::Contains("split brain"));

  PairSide na{ImageRole::non_primary, "A", {copy(3, State::non_primary, "B", 1)}};
  PairSide nb{ImageRole::non_primary, "B", {copy(3, State::non_primary, "A", 1)}};
  auto unknown = dr::storage::first_step(na, nb, "x");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().code == dr::Errc::failed_precondition);

  PairSide plain{ImageRole::not_mirrored, "A", {}};
  auto not_mirrored = dr::storage::first_step(plain, nb, "x");
  REQUIRE_FALSE(not_mirrored);
  CHECK(not_mirrored.error().code == dr::Errc::failed_precondition);
}

TEST_CASE("storage role change: snapshot refs keep equal ids of different clusters apart",
          "[unit][storage]") {
  const auto s = copy(5, State::non_primary, "A", 5);
  CHECK(s.copies({"A", 5}));
  CHECK_FALSE(s.copies({"B", 5}));
  CHECK_FALSE(own(5, State::primary).copies({"", 5}));
}

}  // namespace
