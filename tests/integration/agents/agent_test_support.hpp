#pragma once
// What the handler tests of both agents share: the fixture descriptions, calls that keep the
// answer whether it is a success or an error, and waiting for a job to finish.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"
#include "transport/peer_client.hpp"

namespace dr::testing {

// Polls GET /v1/jobs/ID until the job failed or succeeded (20 s at most, else the test case
// fails); its last JSON.
nlohmann::json finished_job(transport::PeerClient& operator_client, std::int64_t id);

// tests/fixtures/descriptions/NAME, parsed.
nlohmann::json fixture_description(const std::string& name);

// An answer: the status and body of a 2xx, or of an error what PeerClient keeps of it (the
// status, the Errc spelling, and the message with "; POINTER: message" per problem).
struct Answer {
  int status = 0;
  nlohmann::json body;
  std::string code;
  std::string message;
  std::vector<std::string> pointers() const;  // of the problems, in order
};

// One request with `body` as JSON; a call that got no answer at all fails the test case.
Answer call(transport::PeerClient& client, transport::Method method, const std::string& target,
            const std::optional<nlohmann::json>& body = std::nullopt);
// The same with a body sent byte for byte (a signed webhook) and extra header fields.
Answer send(transport::PeerClient& client, transport::Method method, const std::string& target,
            std::string raw_body, transport::Headers headers);

}  // namespace dr::testing
