#include "attest/verifier/metrics.hpp"

#include <catch2/catch.hpp>
#include <limits>
#include <thread>

#include "prometheus_text.hpp"

using namespace cairn;
using namespace cairn::attest::verifier;
using cairn::attest::verifier::testing::Exposition;
using cairn::attest::verifier::testing::parse_prometheus_text;

namespace {

Exposition parsed(const std::string& text) {
  auto exposition = parse_prometheus_text(text);
  INFO(text);
  if (!exposition) FAIL(exposition.error().describe());
  return std::move(*exposition);
}

}  // namespace

TEST_CASE("counters and gauges render as HELP, TYPE and one sample per label set",
          "[verifier][metrics]") {
  MetricsRegistry registry;
  auto& requests = registry.counter("requests_total", "Requests.\nBy path \\ code.");
  auto& temperature = registry.gauge("temperature", "Degrees.");
  auto& plain = registry.counter("plain_total", "No labels.");
  requests.add({{"path", "/a"}, {"code", "200"}});
  requests.add({{"path", "/a"}, {"code", "200"}}, 2);
  requests.add({{"path", "/b"}, {"code", "404"}}, 0);   // exists, reads 0
  requests.add({{"path", "/a"}, {"code", "200"}}, -5);  // a counter never goes down
  plain.add();
  temperature.set({{"room", "a"}}, 21.5);
  temperature.set({{"room", "a"}}, -3.25);
  temperature.set({{"room", "b"}}, std::numeric_limits<double>::infinity());

  auto text = registry.render();
  auto exposition = parsed(text);
  CHECK(exposition.types.at("requests_total") == "counter");
  CHECK(exposition.types.at("temperature") == "gauge");
  CHECK(exposition.help.at("requests_total") == "Requests.\nBy path \\ code.");
  CHECK(exposition.value("requests_total", {{"path", "/a"}, {"code", "200"}}) == 3);
  CHECK(exposition.value("requests_total", {{"path", "/b"}, {"code", "404"}}) == 0);
  CHECK(exposition.value("plain_total") == 1);
  CHECK(exposition.value("temperature", {{"room", "a"}}) == -3.25);
  CHECK(std::isinf(*exposition.value("temperature", {{"room", "b"}})));
  // Families in the order they were made, each one group of lines.
  CHECK(text.find("# HELP requests_total") < text.find("# HELP temperature"));
  CHECK(text.find("# HELP temperature") < text.find("# HELP plain_total"));
  CHECK_THAT(text, Catch::Contains("requests_total{path=\"/a\",code=\"200\"} 3\n"));
  CHECK_THAT(text, Catch::Contains("plain_total 1\n"));

  temperature.clear();
  CHECK_FALSE(parsed(registry.render()).value("temperature", {{"room", "a"}}));
}

TEST_CASE("label values are escaped", "[verifier][metrics]") {
  MetricsRegistry registry;
  auto& counter = registry.counter("odd_total", "Odd label values.");
  std::string odd = "a \"quoted\" back\\slash\nnew line {},=";
  counter.add({{"value", odd}});
  auto text = registry.render();
  CHECK_THAT(text,
             Catch::Contains(R"(odd_total{value="a \"quoted\" back\\slash\nnew line {},="} 1)"));
  CHECK(parsed(text).value("odd_total", {{"value", odd}}) == 1);
}

TEST_CASE("a histogram's buckets are cumulative and end with +Inf equal to _count",
          "[verifier][metrics]") {
  MetricsRegistry registry;
  auto& histogram = registry.histogram("latency_seconds", "Latency.", {0.01, 0.001, 1});
  for (double seconds : {0.0005, 0.001, 0.002, 0.5, 1.0, 7.0, 7.0}) {
    histogram.observe({{"endpoint", "/a"}}, seconds);
  }
  histogram.observe({{"endpoint", "/b"}}, 0.02);
  histogram.observe({{"endpoint", "/b"}}, std::numeric_limits<double>::quiet_NaN());  // ignored

  auto text = registry.render();
  auto exposition = parsed(text);
  CHECK(exposition.types.at("latency_seconds") == "histogram");
  auto bucket = [&](std::string endpoint, std::string le) {
    return exposition.value("latency_seconds_bucket", {{"endpoint", endpoint}, {"le", le}});
  };
  // le is inclusive: 0.001 falls in the 0.001 bucket, 1.0 in the 1 bucket.
  CHECK(bucket("/a", "0.001") == 2);
  CHECK(bucket("/a", "0.01") == 3);
  CHECK(bucket("/a", "1") == 5);
  CHECK(bucket("/a", "+Inf") == 7);
  CHECK(exposition.value("latency_seconds_count", {{"endpoint", "/a"}}) == 7);
  CHECK(exposition.value("latency_seconds_sum", {{"endpoint", "/a"}}) ==
        Approx(0.0005 + 0.001 + 0.002 + 0.5 + 1.0 + 7.0 + 7.0));
  CHECK(bucket("/b", "0.01") == 0);
  CHECK(bucket("/b", "1") == 1);
  CHECK(exposition.value("latency_seconds_count", {{"endpoint", "/b"}}) == 1);
  CHECK_THAT(text, Catch::Contains("latency_seconds_bucket{endpoint=\"/a\",le=\"0.001\"} 2\n"));
}

TEST_CASE("the test's reader refuses malformed exposition text", "[verifier][metrics]") {
  std::string head = "# HELP h Help.\n# TYPE h histogram\n";
  std::string good = head + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n";
  REQUIRE(parse_prometheus_text(good));
  for (std::string bad : {
           head + "h_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 3\nh_count 1\n",
           head + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"2\"} 2\nh_sum 3\nh_count 2\n",
           head + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 3\n",
           head + "h_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",
           std::string("c_total 1\n"),  // no TYPE
           std::string("# TYPE c counter\nc{a=\"x\"\"} 1\n"),
           std::string("# TYPE c counter\nc{a=\"x\\q\"} 1\n"),
           std::string("# TYPE c counter\nc{a=x} 1\n"),
           std::string("# TYPE c counter\nc 1 2 3\n"),
           std::string("# TYPE c counter\nc -1\n"),
           std::string("# TYPE c counter\nc 1\nc 2\n"),
           std::string("# TYPE c counter\n# TYPE d counter\nd 1\nc 1\n"),
           std::string("# TYPE c counter\nc 1"),
           std::string("# TYPE 1c counter\n"),
       }) {
    INFO(bad);
    CHECK_FALSE(parse_prometheus_text(bad));
  }
}

TEST_CASE("counts from many threads add up", "[verifier][metrics]") {
  MetricsRegistry registry;
  auto& counter = registry.counter("events_total", "Events.");
  auto& histogram = registry.histogram("work_seconds", "Work.", {0.1});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        counter.add({{"kind", i % 2 ? "odd" : "even"}});
        histogram.observe({}, 0.05);
        if (i % 100 == 0) (void)registry.render();
      }
    });
  }
  for (auto& thread : threads) thread.join();
  auto exposition = parsed(registry.render());
  CHECK(exposition.value("events_total", {{"kind", "odd"}}) == 2000);
  CHECK(exposition.value("events_total", {{"kind", "even"}}) == 2000);
  CHECK(exposition.value("work_seconds_count") == 4000);
  CHECK(exposition.value("work_seconds_bucket", {{"le", "0.1"}}) == 4000);
}
