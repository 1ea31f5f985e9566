// A registry of counters, gauges and histograms that renders Prometheus's text exposition format
// (version 0.0.4) for a scrape. Thread-safe: the transport's threads observe requests while an
// endpoint counts its verdict and a scrape renders.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cairn::attest::verifier {

// A series' labels, name → value, in the order they render. Names are the caller's constants;
// values may be anything (they are escaped).
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

// One metric family: its HELP and TYPE lines and its series.
class MetricFamily {
 public:
  MetricFamily(std::string name, std::string help)
      : name_(std::move(name)), help_(std::move(help)) {}
  virtual ~MetricFamily() = default;
  void render(std::string& out) const;

 protected:
  virtual std::string_view type() const = 0;
  virtual void render_series(std::string& out) const = 0;  // called with mutex_ held

  std::string name_;
  std::string help_;
  mutable std::mutex mutex_;
};

// A value per label set: a counter only goes up, a gauge is set.
class ValueFamily : public MetricFamily {
 public:
  using MetricFamily::MetricFamily;

 protected:
  void render_series(std::string& out) const override;
  std::map<MetricLabels, double> values_;
};

class Counter : public ValueFamily {
 public:
  using ValueFamily::ValueFamily;
  // Adds `by` to the series, creating it at 0 first: add(labels, 0) makes a series that has not
  // happened yet read 0 rather than be missing (a rate over a missing series is "no data").
  // A negative or NaN `by` is ignored: a counter never goes down.
  void add(const MetricLabels& labels = {}, double by = 1);

 private:
  std::string_view type() const override { return "counter"; }
};

class Gauge : public ValueFamily {
 public:
  using ValueFamily::ValueFamily;
  void set(const MetricLabels& labels, double value);
  void clear();  // drops every series (a value that can no longer be computed)

 private:
  std::string_view type() const override { return "gauge"; }
};

class Histogram : public MetricFamily {
 public:
  // `bounds`: the buckets' upper bounds, ascending; the +Inf bucket is implicit.
  Histogram(std::string name, std::string help, std::vector<double> bounds);
  void observe(const MetricLabels& labels, double value);  // NaN is ignored

 private:
  struct Series {
    std::vector<std::uint64_t> counts;  // per bucket, not cumulative; the last one is +Inf's
    double sum = 0;
    std::uint64_t count = 0;
  };
  std::string_view type() const override { return "histogram"; }
  void render_series(std::string& out) const override;

  std::vector<double> bounds_;
  std::map<MetricLabels, Series> series_;
};

// Owns the families and renders them in the order they were made.
class MetricsRegistry {
 public:
  // Names match [a-zA-Z_:][a-zA-Z0-9_:]*; the references live as long as the registry.
  Counter& counter(std::string name, std::string help);
  Gauge& gauge(std::string name, std::string help);
  Histogram& histogram(std::string name, std::string help, std::vector<double> bounds);

  std::string render() const;

 private:
  template <class Family, class... Args>
  Family& add(Args&&... args);

  mutable std::mutex mutex_;  // guards families_ (each family guards its own series)
  std::vector<std::unique_ptr<MetricFamily>> families_;
};

}  // namespace cairn::attest::verifier
