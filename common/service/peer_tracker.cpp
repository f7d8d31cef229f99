#include "service/peer_tracker.hpp"

#include "service/rest_shapes.hpp"

namespace dr::service {

using nlohmann::json;
using transport::Response;

void PeerTracker::record(bool reached) {
  reachable_.store(reached);
  if (reached) last_contact_ms_.store(now().time_since_epoch().count());
}

std::optional<state::Timestamp> PeerTracker::last_contact() const noexcept {
  const auto ms = last_contact_ms_.load();
  if (ms == 0) return std::nullopt;
  return state::Timestamp{std::chrono::milliseconds{ms}};
}

json PeerTracker::to_json(const std::string& site) const {
  return {
      {"site", site}, {"reachable", reachable()}, {"lastContactAt", optional_time(last_contact())}};
}

Result<Response> TrackedPeerClient::call(const transport::ClientRequest& request) {
  auto r = inner_->call(request);
  // An error answer is contact too; only a transport failure is not.
  const bool reached =
      r || (r.error().code != Errc::unavailable && r.error().code != Errc::deadline_exceeded &&
            r.error().code != Errc::permission_denied);
  tracker_.record(reached);
  return r;
}

}  // namespace dr::service
