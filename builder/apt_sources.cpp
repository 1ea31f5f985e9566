#include "builder/apt_sources.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <memory>
#include <sstream>

#include "common/fs.hpp"

namespace cairn::builder {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::istringstream stream{std::string(text)};
  for (std::string word; stream >> word;) words.push_back(word);
  return words;
}

// "deb [options] uri suite comp…" lines.
void parse_one_line(std::string_view text, std::vector<AptSource>& out) {
  std::istringstream lines{std::string(text)};
  for (std::string line; std::getline(lines, line);) {
    line = line.substr(0, line.find('#'));
    auto words = split_words(line);
    if (words.size() < 3 || words[0] != "deb") continue;
    std::size_t i = 1;
    if (words[i].starts_with('[')) {
      while (i < words.size() && !words[i].ends_with(']')) ++i;
      ++i;
    }
    if (i + 1 >= words.size()) continue;
    AptSource source{.uri = words[i], .suite = words[i + 1]};
    source.components.assign(words.begin() + static_cast<long>(i) + 2, words.end());
    out.push_back(std::move(source));
  }
}

// deb822 stanzas: Types, URIs, Suites, Components, Enabled.
void parse_deb822(std::string_view text, std::vector<AptSource>& out) {
  std::istringstream lines{std::string(text) + "\n\n"};
  std::vector<std::string> types, uris, suites, components;
  bool enabled = true;
  auto flush = [&] {
    if (enabled && std::find(types.begin(), types.end(), "deb") != types.end()) {
      for (const auto& uri : uris) {
        for (const auto& suite : suites) out.push_back({uri, suite, components});
      }
    }
    types.clear(), uris.clear(), suites.clear(), components.clear();
    enabled = true;
  };
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with('#')) continue;
    if (line.find_first_not_of(" \t\r") == std::string::npos) {
      flush();
      continue;
    }
    auto colon = line.find(':');
    if (colon == std::string::npos || line.starts_with(' ')) continue;
    std::string field = line.substr(0, colon);
    auto values = split_words(line.substr(colon + 1));
    if (field == "Types")
      types = values;
    else if (field == "URIs")
      uris = values;
    else if (field == "Suites")
      suites = values;
    else if (field == "Components")
      components = values;
    else if (field == "Enabled")
      enabled = values.empty() || values[0] != "no";
  }
}

}  // namespace

std::string AptSource::line() const {
  std::string out = "deb " + uri + " " + suite;
  for (const auto& component : components) out += " " + component;
  return out;
}

Expected<std::vector<AptSource>> read_host_sources(const fs::path& etc_apt) {
  std::vector<AptSource> sources;
  std::error_code ec;
  if (fs::exists(etc_apt / "sources.list", ec)) {
    parse_one_line(CAIRN_TRY(read_file(etc_apt / "sources.list")), sources);
  }
  std::vector<fs::path> parts;
  for (const auto& entry : fs::directory_iterator(etc_apt / "sources.list.d", ec)) {
    parts.push_back(entry.path());
  }
  std::sort(parts.begin(), parts.end());  // apt reads them in this order too
  for (const auto& part : parts) {
    if (part.extension() == ".list") parse_one_line(CAIRN_TRY(read_file(part)), sources);
    if (part.extension() == ".sources") parse_deb822(CAIRN_TRY(read_file(part)), sources);
  }
  return sources;
}

Expected<std::vector<AptSource>> sources_for_suite(const std::vector<AptSource>& host,
                                                   const std::vector<std::string>& mirrors,
                                                   const std::string& suite,
                                                   const std::vector<std::string>& components) {
  std::vector<AptSource> chosen;
  if (!mirrors.empty()) {
    for (const auto& mirror : mirrors) {
      chosen.push_back({mirror, suite, components});
      chosen.push_back({mirror, suite + "-updates", components});
    }
    return chosen;
  }
  for (const auto& source : host) {
    if (source.suite == suite || source.suite == suite + "-updates" ||
        source.suite == suite + "-security") {
      chosen.push_back({source.uri, source.suite, components});
    }
  }
  if (chosen.empty()) {
    return fail(Errc::not_found,
                "the build machine's apt sources (/etc/apt) have no entry for "
                "suite '" +
                    suite + "'; set debian.mirrors in the recipe");
  }
  return chosen;
}

Expected<std::string> fetch_in_release(const AptSource& source, long timeout_seconds) {
  std::string url = source.uri;
  if (!url.ends_with('/')) url += '/';
  url += "dists/" + source.suite + "/InRelease";
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return fail(Errc::internal, "curl_easy_init failed");
  std::string body;
  auto append = +[](char* data, size_t size, size_t count, void* out) -> size_t {
    static_cast<std::string*>(out)->append(data, size * count);
    return size * count;
  };
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, timeout_seconds);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, timeout_seconds * 3);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, append);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &body);
  CURLcode code = curl_easy_perform(curl.get());
  long status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &status);
  if (code != CURLE_OK) {
    return fail(Errc::unavailable, "mirror " + source.uri + " is unreachable (" + url +
                                       "): " + curl_easy_strerror(code));
  }
  if (status >= 400) {
    return fail(Errc::unavailable, "mirror " + source.uri + " has no suite '" + source.suite +
                                       "' (" + url + ": HTTP " + std::to_string(status) + ")");
  }
  return body;
}

}  // namespace cairn::builder
