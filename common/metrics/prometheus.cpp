#include "metrics/prometheus.hpp"

#include <charconv>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace dr::metrics {
namespace {

bool is_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name) {
  if (name.empty() || is_digit(name.front())) return false;
  for (const char c : name) {
    if (!is_letter(c) && !is_digit(c) && c != ':') return false;
  }
  return true;
}

// [a-zA-Z_][a-zA-Z0-9_]*, and not "__..." (reserved for Prometheus' own labels).
bool valid_label_name(std::string_view name) {
  if (name.empty() || is_digit(name.front()) || name.starts_with("__")) return false;
  for (const char c : name) {
    if (!is_letter(c) && !is_digit(c)) return false;
  }
  return true;
}

void check_metric_name(std::string_view name) {
  if (!valid_metric_name(name)) {
    throw std::invalid_argument("invalid Prometheus metric name '" + std::string(name) + "'");
  }
}

const char* type_name(Type type) {
  switch (type) {
    case Type::counter:
      return "counter";
    case Type::gauge:
      return "gauge";
    case Type::histogram:
      return "histogram";
    case Type::summary:
      return "summary";
    case Type::untyped:
      return "untyped";
  }
  return "untyped";
}

// HELP text escapes backslash and newline; label values also escape the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

// The shortest text that reads back as the same double, without a decimal point when the value is
// integral ("3", "1764000000", "1000000000000000000000"), else in fixed or exponent notation,
// whichever is shorter ("4.2", "1.5e-07"); std::to_chars does both. Prometheus' parser (Go's
// ParseFloat) reads all of these.
void append_value(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "NaN";
  } else if (std::isinf(value)) {
    out += value > 0 ? "+Inf" : "-Inf";
  } else {
    // Room for the largest double in fixed notation: a sign and 309 digits.
    char buffer[std::numeric_limits<double>::max_exponent10 + 3];
    const auto result =
        std::trunc(value) == value
            ? std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::fixed)
            : std::to_chars(buffer, buffer + sizeof buffer, value);
    out.append(buffer, result.ptr);
  }
}

}  // namespace

Family::Family(std::string name, Type type, std::string help)
    : name_(std::move(name)), type_(type), help_(std::move(help)) {}

Family& Family::add(const Labels& labels, double value) { return add_sample("", labels, value); }

Family& Family::add_sample(std::string_view suffix, const Labels& labels, double value) {
  std::string line = name_ + std::string(suffix);
  check_metric_name(line);
  if (!labels.empty()) {
    line += '{';
    for (std::size_t i = 0; i < labels.size(); ++i) {
      const auto& [label, text] = labels[i];
      if (!valid_label_name(label)) {
        throw std::invalid_argument("invalid Prometheus label name '" + label + "' on " + name_);
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (labels[j].first == label) {
          throw std::invalid_argument("label '" + label + "' given twice on " + name_);
        }
      }
      if (i > 0) line += ',';
      line += label;
      line += "=\"";
      append_escaped(line, text, true);
      line += '"';
    }
    line += '}';
  }
  line += ' ';
  append_value(line, value);
  lines_.push_back(std::move(line));
  return *this;
}

Family& Exposition::family(std::string_view name, Type type, std::string_view help) {
  for (Family& existing : families_) {
    if (existing.name_ != name) continue;
    if (existing.type_ != type || existing.help_ != help) {
      throw std::logic_error("metric family '" + existing.name_ +
                             "' declared again with a different type or help");
    }
    return existing;
  }
  check_metric_name(name);
  families_.push_back(Family(std::string(name), type, std::string(help)));
  return families_.back();
}

std::string Exposition::text() const {
  std::string out;
  for (const Family& f : families_) {
    if (!f.help_.empty()) {
      out += "# HELP " + f.name_ + ' ';
      append_escaped(out, f.help_, false);
      out += '\n';
    }
    out += "# TYPE " + f.name_ + ' ' + type_name(f.type_) + '\n';
    for (const std::string& line : f.lines_) {
      out += line;
      out += '\n';
    }
  }
  return out;
}

}  // namespace dr::metrics
