// Decisions as the log and the API show them, the periodic schedule, and policies by name.
#include <cstdint>
#include <cstdio>

#include "hs/scaler/policy.h"
#include "policy_detail.h"

namespace hs::scaler {

namespace detail {

std::string num(double v, int prec) {
  if (missing(v)) return "nan";
  char b[64];
  std::snprintf(b, sizeof b, "%.*f", prec, v);
  return b;
}

std::string secs(Duration d) { return num(to_seconds(d), 0) + " s"; }

Decision begin_decision(std::string_view policy, const ServiceConfig& c, const Signals& sig,
                        const PoolState& pool, TimePoint now) {
  Decision d;
  d.service = c.name;
  d.policy = std::string(policy);
  d.at = now;
  d.current_prefill = pool.prefill;
  d.current_decode = pool.decode;
  d.decode_tps = sig.decode_tps;
  d.coverage = sig.coverage;
  d.ttft_q = sig.ttft.quantile_s;
  d.tbt_q = sig.tbt.quantile_s;
  d.prefill_waiting = sig.prefill_waiting;
  d.decode_waiting = sig.decode_waiting;
  d.prefill_tps = sig.prefill_tps;
  if (sig.offered.known) {
    d.offered_prompt_tps = sig.offered.prompt_tps;
    d.offered_decode_tps = sig.offered.decode_tps;
    d.backlog_prompt_tokens = sig.offered.backlog_prompt_tokens;
  }
  return d;
}

}  // namespace detail

using detail::num;

std::string_view to_string(Direction d) {
  switch (d) {
    case Direction::kHold:
      return "hold";
    case Direction::kOut:
      return "scale_out";
    case Direction::kIn:
      return "scale_in";
  }
  return "hold";
}

const StageResult& Decision::deciding_stage() const {
  const StageResult* last_change = nullptr;
  uint32_t p = current_prefill, d = current_decode;
  for (const auto& s : stages) {
    if (s.prefill != p || s.decode != d) last_change = &s;
    p = s.prefill;
    d = s.decode;
  }
  return last_change ? *last_change : stages.back();
}

std::string Decision::to_log_line() const {
  auto q = [](const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    return out + "\"";
  };
  std::string l =
      "service=" + service + " policy=" + policy +
      " decision=" + std::string(to_string(direction)) +
      " prefill=" + std::to_string(current_prefill) + "->" + std::to_string(desired_prefill) +
      " decode=" + std::to_string(current_decode) + "->" + std::to_string(desired_decode) +
      " decode_tps=" + num(decode_tps) + " coverage=" + num(coverage, 2) +
      " ttft_q=" + num(ttft_q, 3) + " tbt_q=" + num(tbt_q, 4) +
      " prefill_waiting=" + num(prefill_waiting, 0) + " decode_waiting=" + num(decode_waiting, 0) +
      " prefill_tps=" + num(prefill_tps, 0) + " offered_prompt_tps=" + num(offered_prompt_tps, 0) +
      " offered_decode_tps=" + num(offered_decode_tps, 0) +
      " backlog_tokens=" + num(backlog_prompt_tokens, 0) +
      " prefill_scale=" + num(prefill_scale, 2);
  if (!stages.empty()) l += " by=" + deciding_stage().stage;
  for (const auto& s : stages)
    l += " " + s.stage + "=" + std::to_string(s.prefill) + "/" + std::to_string(s.decode) + ":" +
         q(s.reason);
  return l;
}

std::optional<ScheduleEntry> active_schedule_entry(const ServiceConfig& c, int64_t wall) {
  if (c.schedule.empty()) return std::nullopt;
  // 1970-01-01 was a Thursday (day 3 with Monday = 0).
  int64_t day = wall >= 0 ? wall / 86400 : (wall - 86399) / 86400;
  int64_t minute = (wall - day * 86400) / 60;
  for (int back = 0; back <= 7; ++back) {
    int weekday = static_cast<int>(((day - back) % 7 + 7 + 3) % 7);
    const ScheduleEntry* best = nullptr;
    for (const auto& e : c.schedule) {
      if (!(e.days & (1u << weekday))) continue;
      if (back == 0 && e.start_minute > minute) continue;
      if (!best || e.start_minute > best->start_minute) best = &e;
    }
    if (best) return *best;
  }
  return std::nullopt;
}

std::unique_ptr<Policy> make_policy(std::string_view n) {
  if (n == "heteroscale") return std::make_unique<HeteroScalePolicy>();
  if (n == "paper") return std::make_unique<HeteroScalePolicy>(/*paper=*/true);
  if (n == "hpa-util") return std::make_unique<HpaUtilizationPolicy>();
  if (n == "hpa-queue") return std::make_unique<HpaQueuePolicy>();
  if (n == "llmd-slo") return std::make_unique<LlmdSloPolicy>(/*per_role=*/false);
  if (n == "llmd-slo-role") return std::make_unique<LlmdSloPolicy>(/*per_role=*/true);
  if (n == "dynamo-load") return std::make_unique<DynamoLoadPolicy>();
  return nullptr;
}

}  // namespace hs::scaler
