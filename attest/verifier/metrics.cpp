#include "attest/verifier/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace cairn::attest::verifier {

namespace {

std::string format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char text[32];
  auto written = std::to_chars(text, text + sizeof text, value);  // shortest round trip
  return std::string(text, written.ptr);
}

// HELP text escapes \ and newline; a label value also escapes the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (char c : text) {
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

// `name{a="x",b="y"} value`, `extra` a last label (a histogram bucket's le).
void append_sample(std::string& out, std::string_view name, const MetricLabels& labels,
                   const std::pair<std::string_view, std::string>* extra, std::string_view value) {
  out += name;
  if (!labels.empty() || extra) {
    char separator = '{';
    auto append_label = [&](std::string_view label, std::string_view label_value) {
      out += separator;
      out += label;
      out += "=\"";
      append_escaped(out, label_value, true);
      out += '"';
      separator = ',';
    };
    for (const auto& [label, label_value] : labels) append_label(label, label_value);
    if (extra) append_label(extra->first, extra->second);
    out += '}';
  }
  out += ' ';
  out += value;
  out += '\n';
}

}  // namespace

void MetricFamily::render(std::string& out) const {
  out += "# HELP " + name_ + " ";
  append_escaped(out, help_, false);
  out += "\n# TYPE " + name_ + " ";
  out += type();
  out += '\n';
  std::lock_guard lock(mutex_);
  render_series(out);
}

void ValueFamily::render_series(std::string& out) const {
  for (const auto& [labels, value] : values_) {
    append_sample(out, name_, labels, nullptr, format_value(value));
  }
}

void Counter::add(const MetricLabels& labels, double by) {
  if (!(by >= 0)) return;
  std::lock_guard lock(mutex_);
  values_[labels] += by;
}

void Gauge::set(const MetricLabels& labels, double value) {
  std::lock_guard lock(mutex_);
  values_[labels] = value;
}

void Gauge::clear() {
  std::lock_guard lock(mutex_);
  values_.clear();
}

Histogram::Histogram(std::string name, std::string help, std::vector<double> bounds)
    : MetricFamily(std::move(name), std::move(help)), bounds_(std::move(bounds)) {
  std::ranges::sort(bounds_);
}

void Histogram::observe(const MetricLabels& labels, double value) {
  if (std::isnan(value)) return;
  std::lock_guard lock(mutex_);
  auto& series = series_[labels];
  if (series.counts.empty()) series.counts.resize(bounds_.size() + 1);
  // The first bucket whose upper bound (inclusive, `le`) holds the value; past the last, +Inf.
  auto bucket = std::ranges::lower_bound(bounds_, value) - bounds_.begin();
  ++series.counts[static_cast<std::size_t>(bucket)];
  series.sum += value;
  ++series.count;
}

void Histogram::render_series(std::string& out) const {
  auto bucket_name = name_ + "_bucket";
  for (const auto& [labels, series] : series_) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i < series.counts.size(); ++i) {
      cumulative += series.counts[i];
      std::pair<std::string_view, std::string> le{
          "le", i < bounds_.size() ? format_value(bounds_[i]) : "+Inf"};
      append_sample(out, bucket_name, labels, &le, std::to_string(cumulative));
    }
    append_sample(out, name_ + "_sum", labels, nullptr, format_value(series.sum));
    append_sample(out, name_ + "_count", labels, nullptr, std::to_string(series.count));
  }
}

template <class Family, class... Args>
Family& MetricsRegistry::add(Args&&... args) {
  auto family = std::make_unique<Family>(std::forward<Args>(args)...);
  auto& added = *family;
  std::lock_guard lock(mutex_);
  families_.push_back(std::move(family));
  return added;
}

Counter& MetricsRegistry::counter(std::string name, std::string help) {
  return add<Counter>(std::move(name), std::move(help));
}

Gauge& MetricsRegistry::gauge(std::string name, std::string help) {
  return add<Gauge>(std::move(name), std::move(help));
}

Histogram& MetricsRegistry::histogram(std::string name, std::string help,
                                      std::vector<double> bounds) {
  return add<Histogram>(std::move(name), std::move(help), std::move(bounds));
}

std::string MetricsRegistry::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& family : families_) family->render(out);
  return out;
}

}  // namespace cairn::attest::verifier
