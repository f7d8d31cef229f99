#include "agent_test_support.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>

#include "support/test_pki.hpp"
#include "support/wait_until.hpp"

namespace dr::testing {

nlohmann::json finished_job(transport::PeerClient& operator_client, std::int64_t id) {
  nlohmann::json job;
  const bool done = wait_until(
      [&] {
        job = call(operator_client, transport::Method::get, "/v1/jobs/" + std::to_string(id)).body;
        return job["state"] == "failed" || job["state"] == "succeeded";
      },
      std::chrono::seconds(20));
  REQUIRE(done);
  return job;
}

nlohmann::json fixture_description(const std::string& name) {
  std::ifstream in(std::string(DR_FIXTURES_DIR) + "/descriptions/" + name);
  return nlohmann::json::parse(in);
}

std::vector<std::string> Answer::pointers() const {
  std::vector<std::string> out;
  for (auto at = message.find("; "); at != std::string::npos; at = message.find("; ", at + 2)) {
    const auto end = message.find(": ", at + 2);
    if (end == std::string::npos) break;
    out.push_back(message.substr(at + 2, end - at - 2));
  }
  return out;
}

Answer call(transport::PeerClient& client, transport::Method method, const std::string& target,
            const std::optional<nlohmann::json>& body) {
  return send(client, method, target, body ? body->dump() : std::string(), {});
}

Answer send(transport::PeerClient& client, transport::Method method, const std::string& target,
            std::string raw_body, transport::Headers headers) {
  transport::ClientRequest request;
  request.method = method;
  request.target = target;
  request.headers = std::move(headers);
  request.body = std::move(raw_body);
  const auto r = client.call(request);
  if (!r) {
    if (r.error().native < 300) FAIL("no answer: " << r.error().message);
    return {r.error().native, nlohmann::json(), to_string(r.error().code), r.error().message};
  }
  return {r->status,
          r->body.empty() ? nlohmann::json() : nlohmann::json::parse(r->body, nullptr, false),
          "", ""};
}

}  // namespace dr::testing
