// A strict reader of Prometheus's text exposition format (0.0.4) for tests: it refuses what a
// scraper would refuse, and a histogram whose buckets are not cumulative or do not end with +Inf
// equal to its _count. Stricter than the format where the renderer never goes: no blank lines,
// no timestamps.
#pragma once

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace cairn::attest::verifier::testing {

using LabelMap = std::map<std::string, std::string>;

struct Sample {
  std::string name;
  LabelMap labels;  // unescaped
  double value = 0;
};

struct Exposition {
  std::map<std::string, std::string> types;  // family → counter, gauge, histogram, ...
  std::map<std::string, std::string> help;   // unescaped
  std::vector<Sample> samples;

  // The sample with this name and exactly these labels.
  std::optional<double> value(std::string_view name, const LabelMap& labels = {}) const {
    for (const auto& sample : samples) {
      if (sample.name == name && sample.labels == labels) return sample.value;
    }
    return std::nullopt;
  }
};

namespace detail {

inline bool is_metric_name(std::string_view name, bool colon) {
  auto first = [&](char c) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (colon && c == ':');
  };
  return !name.empty() && first(name[0]) && std::ranges::all_of(name, [&](char c) {
    return first(c) || std::isdigit(static_cast<unsigned char>(c));
  });
}

inline std::optional<double> parse_value(std::string_view text) {
  if (text == "+Inf") return std::numeric_limits<double>::infinity();
  if (text == "-Inf") return -std::numeric_limits<double>::infinity();
  if (text == "NaN") return std::numeric_limits<double>::quiet_NaN();
  double value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return {};
  return value;
}

// Reads `\\`, `\n` and (in a label value) `\"` escapes up to an unescaped `end` (or the end of
// `text` when end is 0), advancing `at` past it.
inline std::optional<std::string> unescape(std::string_view text, std::size_t& at, char end) {
  std::string out;
  while (at < text.size() && text[at] != end) {
    char c = text[at++];
    if (c == '"') return std::nullopt;  // an unescaped quote inside a label value
    if (c != '\\') {
      out += c;
      continue;
    }
    if (at == text.size()) return std::nullopt;
    char escaped = text[at++];
    if (escaped == 'n') {
      out += '\n';
    } else if (escaped == '\\' || (escaped == '"' && end == '"')) {
      out += escaped;
    } else {
      return std::nullopt;
    }
  }
  if (end != 0 && at == text.size()) return std::nullopt;
  if (end != 0) ++at;
  return out;
}

inline Expected<Sample> parse_sample(std::string_view line) {
  auto bad = [&](std::string_view why) {
    return fail(Errc::invalid_input, std::string(why) + ": " + std::string(line));
  };
  Sample sample;
  std::size_t at = line.find_first_of("{ ");
  if (at == std::string_view::npos) return bad("no value");
  sample.name = line.substr(0, at);
  if (!is_metric_name(sample.name, true)) return bad("bad metric name");
  if (line[at] == '{') {
    ++at;
    while (at < line.size() && line[at] != '}') {
      auto equals = line.find('=', at);
      if (equals == std::string_view::npos) return bad("label without =");
      std::string label(line.substr(at, equals - at));
      if (!is_metric_name(label, false)) return bad("bad label name");
      at = equals + 1;
      if (at >= line.size() || line[at] != '"') return bad("label value not quoted");
      ++at;
      auto value = unescape(line, at, '"');
      if (!value) return bad("bad label value escape or quote");
      if (!sample.labels.emplace(label, *value).second) return bad("label repeated");
      if (at < line.size() && line[at] == ',') ++at;
    }
    if (at == line.size()) return bad("labels not closed");
    ++at;
  }
  if (at >= line.size() || line[at] != ' ') return bad("no space before the value");
  auto value = parse_value(line.substr(at + 1));
  if (!value) return bad("bad value");
  sample.value = *value;
  return sample;
}

// Every histogram series: buckets ascending by le, cumulative, the last +Inf, equal to _count.
inline Status check_histogram(const Exposition& out, const std::string& family) {
  std::map<LabelMap, std::vector<std::pair<double, double>>> buckets;  // labels → (le, count)
  std::map<LabelMap, std::pair<bool, double>> counts;                  // has _sum, _count
  for (const auto& sample : out.samples) {
    if (sample.name == family + "_bucket") {
      auto labels = sample.labels;
      auto le = labels.find("le");
      if (le == labels.end()) return fail(Errc::invalid_input, family + " bucket without le");
      auto bound = parse_value(le->second);
      if (!bound) return fail(Errc::invalid_input, family + " bucket le " + le->second);
      labels.erase(le);
      buckets[labels].emplace_back(*bound, sample.value);
    } else if (sample.name == family + "_sum") {
      counts[sample.labels].first = true;
    } else if (sample.name == family + "_count") {
      counts[sample.labels].second = sample.value;
    }
  }
  if (buckets.size() != counts.size()) {
    return fail(Errc::invalid_input, family + ": series with buckets but no _count or _sum");
  }
  for (const auto& [labels, series] : buckets) {
    for (std::size_t i = 1; i < series.size(); ++i) {
      if (!(series[i - 1].first < series[i].first) || series[i - 1].second > series[i].second) {
        return fail(Errc::invalid_input, family + ": buckets not ascending and cumulative");
      }
    }
    auto count = counts.find(labels);
    if (count == counts.end() || !count->second.first) {
      return fail(Errc::invalid_input, family + ": a series without _sum");
    }
    if (!std::isinf(series.back().first) || series.back().second != count->second.second) {
      return fail(Errc::invalid_input, family + ": last bucket not +Inf equal to _count");
    }
  }
  return {};
}

}  // namespace detail

inline Expected<Exposition> parse_prometheus_text(std::string_view text) {
  if (text.empty() || text.back() != '\n') return fail(Errc::invalid_input, "no final newline");
  Exposition out;
  std::set<std::string> closed;  // families whose group of lines has ended
  std::string current;
  auto enter = [&](const std::string& family) -> Status {
    if (family == current) return {};
    if (closed.contains(family)) return fail(Errc::invalid_input, family + " lines not grouped");
    if (!current.empty()) closed.insert(current);
    current = family;
    return {};
  };
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    auto line = text.substr(start, end - start);
    start = end + 1;
    if (line.empty()) return fail(Errc::invalid_input, "blank line");
    for (std::string_view keyword : {"# HELP ", "# TYPE "}) {
      if (!line.starts_with(keyword)) continue;
      auto rest = line.substr(keyword.size());
      auto space = rest.find(' ');
      std::string name(rest.substr(0, space));
      if (!detail::is_metric_name(name, true) || space == std::string_view::npos) {
        return fail(Errc::invalid_input, "bad " + std::string(line));
      }
      CAIRN_CHECK(enter(name));
      std::size_t at = space + 1;
      auto body = detail::unescape(rest, at, 0);
      auto& into = keyword == "# HELP " ? out.help : out.types;
      if (!body || !into.emplace(name, *body).second) {
        return fail(Errc::invalid_input, "bad or repeated " + std::string(line));
      }
      if (keyword == "# TYPE " &&
          std::ranges::none_of(std::array{"counter", "gauge", "histogram", "summary", "untyped"},
                               [&](std::string_view type) { return *body == type; })) {
        return fail(Errc::invalid_input, "unknown type in " + std::string(line));
      }
    }
    if (line.starts_with("#")) continue;
    auto sample = CAIRN_TRY(detail::parse_sample(line));
    std::string family = sample.name;
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      auto stem = family.substr(0, family.size() - std::min(family.size(), suffix.size()));
      if (family.ends_with(suffix) && out.types.contains(stem) && out.types[stem] == "histogram") {
        family = stem;
      }
    }
    if (!out.types.contains(family)) {
      return fail(Errc::invalid_input, "sample before its TYPE: " + std::string(line));
    }
    CAIRN_CHECK(enter(family));
    if (out.types[family] == "counter" && !(sample.value >= 0)) {
      return fail(Errc::invalid_input, "negative counter: " + std::string(line));
    }
    if (out.value(sample.name, sample.labels)) {
      return fail(Errc::invalid_input, "repeated series: " + std::string(line));
    }
    out.samples.push_back(std::move(sample));
  }
  for (const auto& [family, type] : out.types) {
    if (type == "histogram") CAIRN_CHECK(detail::check_histogram(out, family));
  }
  return out;
}

}  // namespace cairn::attest::verifier::testing
