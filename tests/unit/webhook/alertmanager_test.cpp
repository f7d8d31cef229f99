// Alertmanager's webhook payload (version 4) → failover requests.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "webhook/webhook.hpp"

namespace dr::webhook {
namespace {

using json = nlohmann::json;

// One alert as Alertmanager sends it.
json alert(std::string status, json labels, std::string fingerprint = "c0ffee0123456789",
           std::string starts_at = "2025-11-24T16:00:00.000Z") {
  json a{{"status", std::move(status)},
         {"labels", std::move(labels)},
         {"annotations", {{"summary", "production site unreachable"}}},
         {"startsAt", std::move(starts_at)},
         {"endsAt", "0001-01-01T00:00:00Z"},
         {"generatorURL", "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0"}};
  if (!fingerprint.empty()) a["fingerprint"] = std::move(fingerprint);
  return a;
}

// Alertmanager's webhook envelope (version 4) around `alerts`.
std::string payload(json alerts) {
  return json{{"version", "4"},
              {"groupKey", "{}:{alertname=\"SiteDown\"}"},
              {"truncatedAlerts", 0},
              {"status", "firing"},
              {"receiver", "drpair"},
              {"groupLabels", {{"alertname", "SiteDown"}}},
              {"commonLabels", {{"alertname", "SiteDown"}}},
              {"commonAnnotations", json::object()},
              {"externalURL", "http://alertmanager:9093"},
              {"alerts", std::move(alerts)}}
      .dump();
}

json site_down(std::string app) {
  return {{"alertname", "SiteDown"}, {"drpair_app", std::move(app)}, {"severity", "critical"}};
}

std::vector<FailoverRequest> failovers(const std::string& body,
                                       const AlertmanagerOptions& options = {}) {
  auto r = alerts_to_failovers(body, options);
  REQUIRE(r);
  return *r;
}

model::Problems problems(const std::string& body) {
  auto r = alerts_to_failovers(body, {});
  REQUIRE_FALSE(r);
  return r.error();
}

TEST_CASE("a real Alertmanager delivery with one firing alert asks for one failover",
          "[webhook][alertmanager]") {
  // As Alertmanager 0.25 posts it.
  const std::string body = R"({
    "receiver": "drpair",
    "status": "firing",
    "alerts": [{
      "status": "firing",
      "labels": {"alertname": "SiteDown", "drpair_app": "APP1", "instance": "prod:9100"},
      "annotations": {"summary": "production site unreachable"},
      "startsAt": "2025-11-24T16:00:00.000Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=up+%3D%3D+0&g0.tab=1",
      "fingerprint": "a1b2c3d4e5f60718"
    }],
    "groupLabels": {"alertname": "SiteDown"},
    "commonLabels": {"alertname": "SiteDown", "drpair_app": "APP1", "instance": "prod:9100"},
    "commonAnnotations": {"summary": "production site unreachable"},
    "externalURL": "http://alertmanager:9093",
    "version": "4",
    "groupKey": "{}:{alertname=\"SiteDown\"}",
    "truncatedAlerts": 0
  })";
  const auto requests = failovers(body);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].app == "APP1");
  CHECK(requests[0].type == FailoverType::disaster);
  CHECK(requests[0].idempotency_key == "alertmanager:a1b2c3d4e5f60718:2025-11-24T16:00:00.000Z");
  CHECK(requests[0].reason == "alertname=SiteDown");
  CHECK_FALSE(requests[0].force);
}

TEST_CASE("resolved alerts ask for nothing", "[webhook][alertmanager]") {
  CHECK(failovers(payload({alert("resolved", site_down("APP1"))})).empty());
}

TEST_CASE("alerts without the app label ask for nothing", "[webhook][alertmanager]") {
  CHECK(failovers(payload({alert("firing", {{"alertname", "DiskFull"}})})).empty());
  CHECK(failovers(payload({alert("firing", {{"alertname", "X"}, {"drpair_app", ""}})})).empty());
}

TEST_CASE("an empty alerts array asks for nothing", "[webhook][alertmanager]") {
  CHECK(failovers(payload(json::array())).empty());
}

TEST_CASE("two firing alerts for one app ask for one failover, the first's",
          "[webhook][alertmanager]") {
  const auto requests = failovers(payload({
      alert("resolved", site_down("APP1"), "0000000000000001"),
      alert("firing", site_down("APP1"), "0000000000000002"),
      alert("firing", {{"alertname", "HostDown"}, {"drpair_app", "APP1"}}, "0000000000000003"),
  }));
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].idempotency_key == "alertmanager:0000000000000002:2025-11-24T16:00:00.000Z");
  CHECK(requests[0].reason == "alertname=SiteDown");
}

TEST_CASE("alerts for two apps ask for two failovers in alert order", "[webhook][alertmanager]") {
  const auto requests = failovers(payload({
      alert("firing", site_down("APP2"), "0000000000000002"),
      alert("firing", {{"alertname", "DiskFull"}}, "0000000000000009"),
      alert("firing", site_down("APP1"), "0000000000000001"),
  }));
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].app == "APP2");
  CHECK(requests[1].app == "APP1");
}

TEST_CASE("a repeat of one firing alert keeps its key; a new episode gets a new one",
          "[webhook][alertmanager]") {
  const auto first = failovers(payload({alert("firing", site_down("APP1"))}));
  const auto repeat = failovers(payload({alert("firing", site_down("APP1"))}));
  const auto later = failovers(payload(
      {alert("firing", site_down("APP1"), "c0ffee0123456789", "2025-11-25T09:30:00.000Z")}));
  REQUIRE(first.size() == 1);
  REQUIRE(repeat.size() == 1);
  REQUIRE(later.size() == 1);
  CHECK(first[0].idempotency_key == repeat[0].idempotency_key);
  CHECK(first[0].idempotency_key != later[0].idempotency_key);
}

TEST_CASE("without a fingerprint the key hashes the sorted labels", "[webhook][alertmanager]") {
  const auto requests = failovers(payload(
      {alert("firing", {{"drpair_app", "APP1"}, {"alertname", "SiteDown"}}, /*fingerprint=*/"")}));
  REQUIRE(requests.size() == 1);
  // sha256('{"alertname":"SiteDown","drpair_app":"APP1"}'), computed with Python's hashlib.
  CHECK(requests[0].idempotency_key ==
        "alertmanager:790dd3acd2bfa58c2dc84f55606556a265511144a0fef4855b8cf570b6b3090b:"
        "2025-11-24T16:00:00.000Z");
}

TEST_CASE("an alert without alertname is named by its labels", "[webhook][alertmanager]") {
  const auto requests = failovers(payload({alert("firing", {{"drpair_app", "APP1"}})}));
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].reason == R"(alert labels {"drpair_app":"APP1"})");
}

TEST_CASE("the app label and the failover type are options", "[webhook][alertmanager]") {
  AlertmanagerOptions options;
  options.app_label = "application";
  options.type = FailoverType::planned;
  const auto requests = failovers(payload({
                                      alert("firing", site_down("APP1")),
                                      alert("firing", {{"application", "APP3"}}),
                                  }),
                                  options);
  REQUIRE(requests.size() == 1);
  CHECK(requests[0].app == "APP3");
  CHECK(requests[0].type == FailoverType::planned);
}

TEST_CASE("a payload without a version is read", "[webhook][alertmanager]") {
  const json body{{"alerts", {alert("firing", site_down("APP1"))}}};
  CHECK(failovers(body.dump()).size() == 1);
}

TEST_CASE("a body that is not JSON is reported at the document", "[webhook][alertmanager]") {
  const auto found = problems("{\"alerts\": [");
  REQUIRE(found.size() == 1);
  CHECK(found[0].pointer.empty());
  CHECK_THAT(found[0].message, Catch::StartsWith("malformed JSON: parse error"));
}

TEST_CASE("a payload that is not Alertmanager's is reported", "[webhook][alertmanager]") {
  CHECK(problems("[]") == model::Problems{{"", "expected an object, found an array"}});
  CHECK(problems(R"({"version": "4"})") ==
        model::Problems{{"", "missing required field 'alerts'"}});
  CHECK(problems(R"({"version": "4", "alerts": {}})") ==
        model::Problems{{"/alerts", "expected an array, found an object"}});
  CHECK(
      problems(R"({"version": "3", "alerts": []})") ==
      model::Problems{{"/version", "unsupported Alertmanager webhook version '3' (expected '4')"}});
  CHECK(problems(R"({"version": 4, "alerts": []})") ==
        model::Problems{{"/version", "expected a string, found an integer"}});
}

TEST_CASE("malformed alerts are each reported with their pointer", "[webhook][alertmanager]") {
  json missing = alert("firing", site_down("APP1"));
  missing.erase("status");
  missing.erase("labels");
  missing.erase("startsAt");
  json empty_fingerprint = alert("firing", site_down("APP1"));
  empty_fingerprint["fingerprint"] = "";
  const auto found = problems(payload({
      "not an alert",
      std::move(missing),
      alert("pending", site_down("APP1")),
      alert("firing", json::array({"APP1"})),
      alert("firing", {{"drpair_app", 1}, {"alertname", "SiteDown"}, {"up", nullptr}}),
      alert("firing", site_down("APP1"), "c0ffee0123456789", ""),
      std::move(empty_fingerprint),
  }));
  CHECK(found == model::Problems{
                     {"/alerts/0", "expected an object, found a string"},
                     {"/alerts/1", "missing required field 'status'"},
                     {"/alerts/1", "missing required field 'startsAt'"},
                     {"/alerts/1", "missing required field 'labels'"},
                     {"/alerts/2/status", "must be 'firing' or 'resolved', found 'pending'"},
                     {"/alerts/3/labels", "expected an object, found an array"},
                     {"/alerts/4/labels/drpair_app", "expected a string, found an integer"},
                     {"/alerts/4/labels/up", "expected a string, found null"},
                     {"/alerts/5/startsAt", "must not be empty"},
                     {"/alerts/6/fingerprint", "must not be empty"},
                 });
}

}  // namespace
}  // namespace dr::webhook
