#include "metrics/prometheus.hpp"

#include <catch2/catch.hpp>
#include <limits>
#include <stdexcept>

namespace dr::metrics {
namespace {

// The text of one untyped, help-less family holding one sample of `value`.
std::string value_text(double value) {
  Exposition out;
  out.family("v", Type::untyped, "").add({}, value);
  const std::string text = out.text();
  const std::string prefix = "# TYPE v untyped\nv ";
  REQUIRE(text.starts_with(prefix));
  REQUIRE(text.ends_with("\n"));
  return text.substr(prefix.size(), text.size() - prefix.size() - 1);
}

TEST_CASE("families print HELP, TYPE and their samples in declaration order", "[metrics]") {
  Exposition out;
  auto& lag = out.family("drpair_image_replication_lag_seconds", Type::gauge,
                         "Age of the newest mirror snapshot complete at the DR site.");
  auto& jobs = out.family("drpair_failover_jobs_total", Type::counter, "Failover jobs started.");
  lag.add({{"app", "app1"}, {"image", "rbd/app1-web1"}}, 4.2);
  jobs.add({}, 3);
  lag.add({{"app", "app1"}, {"image", "rbd/app1-db1"}}, 12);
  CHECK(out.text() ==
        "# HELP drpair_image_replication_lag_seconds Age of the newest mirror snapshot complete "
        "at the DR site.\n"
        "# TYPE drpair_image_replication_lag_seconds gauge\n"
        "drpair_image_replication_lag_seconds{app=\"app1\",image=\"rbd/app1-web1\"} 4.2\n"
        "drpair_image_replication_lag_seconds{app=\"app1\",image=\"rbd/app1-db1\"} 12\n"
        "# HELP drpair_failover_jobs_total Failover jobs started.\n"
        "# TYPE drpair_failover_jobs_total counter\n"
        "drpair_failover_jobs_total 3\n");
}

TEST_CASE("an empty exposition is empty", "[metrics]") { CHECK(Exposition{}.text().empty()); }

TEST_CASE("a family without samples still prints its HELP and TYPE", "[metrics]") {
  Exposition out;
  out.family("drpair_up", Type::gauge, "1 when the agent runs.");
  CHECK(out.text() == "# HELP drpair_up 1 when the agent runs.\n# TYPE drpair_up gauge\n");
}

TEST_CASE("a family without help prints no HELP line", "[metrics]") {
  Exposition out;
  out.family("x", Type::summary, "").add_sample("_count", {}, 2);
  CHECK(out.text() == "# TYPE x summary\nx_count 2\n");
}

TEST_CASE("help escapes backslash and newline but not quotes", "[metrics]") {
  Exposition out;
  out.family("x", Type::untyped, "a \\ b\nc \"d\"");
  CHECK(out.text() == "# HELP x a \\\\ b\\nc \"d\"\n# TYPE x untyped\n");
}

TEST_CASE("label values escape backslash, quote and newline", "[metrics]") {
  Exposition out;
  out.family("x", Type::gauge, "").add({{"path", "C:\\vm \"one\"\nnext"}}, 1);
  CHECK(out.text() == "# TYPE x gauge\nx{path=\"C:\\\\vm \\\"one\\\"\\nnext\"} 1\n");
}

TEST_CASE("label values may be empty or any UTF-8", "[metrics]") {
  Exposition out;
  out.family("x", Type::gauge, "").add({{"a", ""}, {"b", "Zürich {x}=,"}}, 1);
  CHECK(out.text() == "# TYPE x gauge\nx{a=\"\",b=\"Zürich {x}=,\"} 1\n");
}

TEST_CASE("a histogram is written as its bucket, sum and count samples", "[metrics]") {
  Exposition out;
  out.family("drpair_step_seconds", Type::histogram, "Failover step duration.")
      .add_sample("_bucket", {{"step", "promote"}, {"le", "0.5"}}, 1)
      .add_sample("_bucket", {{"step", "promote"}, {"le", "+Inf"}}, 2)
      .add_sample("_sum", {{"step", "promote"}}, 0.75)
      .add_sample("_count", {{"step", "promote"}}, 2);
  CHECK(out.text() ==
        "# HELP drpair_step_seconds Failover step duration.\n"
        "# TYPE drpair_step_seconds histogram\n"
        "drpair_step_seconds_bucket{step=\"promote\",le=\"0.5\"} 1\n"
        "drpair_step_seconds_bucket{step=\"promote\",le=\"+Inf\"} 2\n"
        "drpair_step_seconds_sum{step=\"promote\"} 0.75\n"
        "drpair_step_seconds_count{step=\"promote\"} 2\n");
}

TEST_CASE("values print as integers when integral, else as the shortest round trip", "[metrics]") {
  CHECK(value_text(0) == "0");
  CHECK(value_text(3) == "3");
  CHECK(value_text(-2) == "-2");
  CHECK(value_text(1764000000) == "1764000000");
  CHECK(value_text(123456789012345) == "123456789012345");
  CHECK(value_text(-0.0) == "-0");
  CHECK(value_text(9007199254740993.0) == "9007199254740992");  // rounds to 2^53 on the way in
  CHECK(value_text(1.5e20) == "150000000000000000000");
  CHECK(value_text(4.2) == "4.2");
  CHECK(value_text(0.1) == "0.1");
  CHECK(value_text(-0.5) == "-0.5");
  CHECK(value_text(1.0 / 3) == "0.3333333333333333");
  CHECK(value_text(1.5e-7) == "1.5e-07");
  CHECK(value_text(1e21) == "1000000000000000000000");
  CHECK(value_text(1e300).size() == 301);
  CHECK(value_text(-std::numeric_limits<double>::max()).size() == 310);
  CHECK(value_text(std::numeric_limits<double>::min()) == "2.2250738585072014e-308");
}

TEST_CASE("NaN and the infinities print as Prometheus spells them", "[metrics]") {
  CHECK(value_text(std::numeric_limits<double>::quiet_NaN()) == "NaN");
  CHECK(value_text(std::numeric_limits<double>::infinity()) == "+Inf");
  CHECK(value_text(-std::numeric_limits<double>::infinity()) == "-Inf");
}

TEST_CASE("declaring a family again returns the first", "[metrics]") {
  Exposition out;
  auto& first = out.family("a", Type::counter, "A.");
  out.family("b", Type::gauge, "B.").add({}, 1);
  auto& again = out.family("a", Type::counter, "A.");
  CHECK(&first == &again);
  again.add({}, 2);
  first.add({{"k", "v"}}, 3);
  CHECK(out.text() ==
        "# HELP a A.\n# TYPE a counter\na 2\na{k=\"v\"} 3\n"
        "# HELP b B.\n# TYPE b gauge\nb 1\n");
}

TEST_CASE("declaring a family again with another type or help is a logic error", "[metrics]") {
  Exposition out;
  out.family("a", Type::counter, "A.");
  CHECK_THROWS_MATCHES(out.family("a", Type::gauge, "A."), std::logic_error,
                       Catch::Message("metric family 'a' declared again with a different type "
                                      "or help"));
  CHECK_THROWS_AS(out.family("a", Type::counter, "Another."), std::logic_error);
}

TEST_CASE("metric names follow Prometheus' grammar", "[metrics]") {
  Exposition out;
  CHECK_NOTHROW(out.family("_a:b_C9", Type::gauge, ""));
  CHECK_NOTHROW(out.family("job:requests:rate5m", Type::gauge, ""));
  for (const char* name : {"", "9lives", "a-b", "a b", "a.b", "é"}) {
    CAPTURE(name);
    CHECK_THROWS_AS(out.family(name, Type::gauge, ""), std::invalid_argument);
  }
  CHECK_THROWS_MATCHES(out.family("a-b", Type::gauge, ""), std::invalid_argument,
                       Catch::Message("invalid Prometheus metric name 'a-b'"));
  CHECK(out.text() == "# TYPE _a:b_C9 gauge\n# TYPE job:requests:rate5m gauge\n");
}

TEST_CASE("a sample suffix must keep the name valid", "[metrics]") {
  Exposition out;
  auto& f = out.family("x", Type::histogram, "");
  CHECK_THROWS_MATCHES(f.add_sample("-bucket", {}, 1), std::invalid_argument,
                       Catch::Message("invalid Prometheus metric name 'x-bucket'"));
  CHECK(out.text() == "# TYPE x histogram\n");
}

TEST_CASE("label names follow Prometheus' grammar", "[metrics]") {
  Exposition out;
  auto& f = out.family("x", Type::gauge, "");
  CHECK_NOTHROW(f.add({{"_a", "1"}, {"B9", "2"}, {"_", "3"}}, 1));
  for (const char* name : {"", "9a", "a-b", "a:b", "__name__", "__x"}) {
    CAPTURE(name);
    CHECK_THROWS_AS(f.add({{"ok", "1"}, {name, "v"}}, 1), std::invalid_argument);
  }
  CHECK_THROWS_MATCHES(f.add({{"a:b", "v"}}, 1), std::invalid_argument,
                       Catch::Message("invalid Prometheus label name 'a:b' on x"));
  CHECK(out.text() == "# TYPE x gauge\nx{_a=\"1\",B9=\"2\",_=\"3\"} 1\n");
}

TEST_CASE("a label given twice in one sample is rejected", "[metrics]") {
  Exposition out;
  auto& f = out.family("x", Type::gauge, "");
  CHECK_THROWS_MATCHES(f.add({{"app", "a"}, {"image", "i"}, {"app", "b"}}, 1),
                       std::invalid_argument, Catch::Message("label 'app' given twice on x"));
  CHECK(out.text() == "# TYPE x gauge\n");
}

TEST_CASE("the content type is the 0.0.4 text format's", "[metrics]") {
  CHECK(kContentType == "text/plain; version=0.0.4; charset=utf-8");
}

}  // namespace
}  // namespace dr::metrics
