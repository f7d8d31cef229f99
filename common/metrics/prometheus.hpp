#pragma once
// Prometheus text exposition (format 0.0.4) for GET /metrics: a small writer that gets the
// escaping, the HELP/TYPE lines and the grouping right, so the agents only say what they measure.
//
//   metrics::Exposition out;
//   auto& lag = out.family("drpair_image_replication_lag_seconds", metrics::Type::gauge,
//                          "Age of the newest mirror snapshot complete at the DR site.");
//   lag.add({{"app", "app1"}, {"image", "rbd/app1-web1"}}, 4.2);
//   std::string body = out.text();   // Content-Type: metrics::kContentType
//
// Families print in the order they were first declared, samples in the order added; label
// values are escaped (\\, \", \n); NaN and infinities print as NaN, +Inf, -Inf; integral values
// print without a decimal point. Declaring the same family twice returns the first (its type and
// help must match, else std::logic_error: a programming error). Metric and label names are
// checked against Prometheus' grammar (std::invalid_argument otherwise).
//
// Histograms are written by the caller as their _bucket/_sum/_count samples under one family of
// Type::histogram (add_sample with a suffix); summaries likewise.
//
// Thread-compatible: build one per scrape.

#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dr::metrics {

inline constexpr std::string_view kContentType = "text/plain; version=0.0.4; charset=utf-8";

enum class Type { counter, gauge, histogram, summary, untyped };

using Labels = std::vector<std::pair<std::string, std::string>>;

class Family {
 public:
  // A sample named after the family.
  Family& add(const Labels& labels, double value);
  // A sample named family name + suffix ("_bucket", "_sum", "_count", "_total").
  Family& add_sample(std::string_view suffix, const Labels& labels, double value);

 private:
  friend class Exposition;
  Family(std::string name, Type type, std::string help);
  std::string name_;
  Type type_;
  std::string help_;
  std::vector<std::string> lines_;
};

class Exposition {
 public:
  Family& family(std::string_view name, Type type, std::string_view help);
  std::string text() const;

 private:
  std::deque<Family> families_;  // deque: references returned by family() stay valid
};

}  // namespace dr::metrics
