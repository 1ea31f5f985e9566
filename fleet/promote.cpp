#include "fleet/promote.hpp"

#include "common/cms.hpp"
#include "fleet/channel_repo.hpp"

namespace cairn::fleet {

namespace {

// The verifier's part of the evidence. Without an answer there is no evidence: refused, unless
// forced (the failure then goes into the record).
Status add_attested_evidence(const PromoteRequest& request, const std::vector<HostRecord>& hosts,
                             Promotion& promotion) {
  if (request.verifier.url.empty() || request.image.empty()) {
    return fail(Errc::invalid_input, "--attested needs --verifier URL and --image NAME");
  }
  auto& evidence = promotion.evidence;
  auto attested = fetch_attested_hosts(request.verifier, request.image, request.version);
  if (!attested) {
    if (!request.force) return std::unexpected(std::move(attested).error());
    evidence.sufficient = false;
    evidence.summary += "; no attestation evidence: " + attested.error().describe();
    return {};
  }
  auto followers = attested_followers(hosts, request.from_channel, *attested);
  evidence.attested = followers.size();
  bool revoked = attested->state == "revoked";
  evidence.sufficient =
      evidence.sufficient && !revoked && evidence.attested >= request.min_attested;
  evidence.summary += "; " + std::to_string(evidence.attested) + " of them attested on " +
                      request.image + " " + request.version + " (at least " +
                      std::to_string(request.min_attested) + " needed)";
  if (revoked) evidence.summary += ", which the verifier revoked";
  return {};
}

}  // namespace

Expected<Promotion> promote_version(FleetStore& store, const PromoteRequest& request) {
  if (request.from_channel == request.to_channel) {
    return fail(Errc::invalid_input, "--from and --to name the same channel");
  }
  Promotion promotion;
  auto hosts = CAIRN_TRY(store.hosts());
  promotion.evidence = promotion_evidence(request.version, request.from_channel, request.min_hosts,
                                          CAIRN_TRY(store.outcomes(request.version)), hosts);
  if (request.min_attested > 0) CAIRN_CHECK(add_attested_evidence(request, hosts, promotion));
  if (!promotion.evidence.sufficient && !request.force) {
    return fail(Errc::invalid_input, request.version +
                                         " not promoted: " + promotion.evidence.summary +
                                         "; --force promotes it anyway (recorded)");
  }
  // The keys the publisher signs with, and the anchors hosts check against.
  auto signer =
      CAIRN_TRY(CmsSigner::load(request.keys / "signing.key", request.keys / "signing.crt"));
  auto trust = CAIRN_TRY(CmsVerifier::load(request.keys / "trust"));
  auto source = CAIRN_TRY(read_channel(request.repo, request.from_channel, trust));
  std::vector<ChannelEntry> promoted;
  for (const auto& entry : source.entries) {
    if (entry.version == request.version) promoted.push_back(entry);
  }
  if (promoted.empty()) {
    return fail(Errc::not_found, request.version + " is not in channel " + request.from_channel);
  }
  TimePoint now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto written = CAIRN_TRY(resign_channel(request.repo, request.to_channel,
                                          [&](ChannelIndex& index) -> Status {
                                            for (auto entry : promoted) {
                                              // The same bundle and waves; the rollout starts again
                                              // in the new channel, now.
                                              entry.published = now;
                                              entry.rollout.start = now;
                                              entry.state = EntryState::active;
                                              put_entry(index, std::move(entry));
                                            }
                                            return {};
                                          },
                                          signer, trust, now, {.create = true}));
  promotion.serial = written.serial;
  CAIRN_CHECK(store.put_promotion(request.version,
                                  {.from_channel = request.from_channel,
                                   .to_channel = request.to_channel,
                                   .by = request.by,
                                   .forced = request.force && !promotion.evidence.sufficient,
                                   .evidence = promotion.evidence.summary,
                                   .at = format_time(now)}));
  return promotion;
}

}  // namespace cairn::fleet
