// The ServeGen composer as a stream: one seeded generator per client, drawing that client's
// arrivals and lengths window by window (the same draws in the same order as the vector
// composer it replaced), merged in arrival order by a heap, so that a day at full rate
// (24 M requests) or two weeks never sit in memory.
#include <cmath>
#include <cstdint>
#include <map>
#include <queue>
#include <random>

#include "hs/workload/servegen.h"

namespace hs::workload {

namespace {

// A sampler for one PMF (std::discrete_distribution: O(log n) per draw, no state of its own).
struct Sampler {
  std::vector<uint32_t> values;
  std::discrete_distribution<size_t> dist;
  Sampler() = default;
  explicit Sampler(const Pmf& p) : values(p.values), dist(p.probs.begin(), p.probs.end()) {}
  bool empty() const { return values.empty(); }
  uint32_t operator()(std::mt19937_64& rng) { return values[dist(rng)]; }
};

Pmf pool(const std::vector<const Pmf*>& pmfs) {
  std::map<uint32_t, double> acc;
  for (const Pmf* p : pmfs)
    for (size_t i = 0; i < p->values.size(); ++i) acc[p->values[i]] += p->probs[i];
  Pmf out;
  for (auto [v, pr] : acc) {
    out.values.push_back(v);
    out.probs.push_back(pr);
  }
  return out;
}

// What one request draws from one 6 h window of PMFs (a client's own, or a pool of them).
struct WindowSampler {
  bool multimodal = false;
  Sampler input, output, text, image_count, image, audio_count, audio, video_count, video;
  std::vector<double> reason_values;
  std::discrete_distribution<size_t> reason;

  // A client's own window (`merge` false: its PMFs as given) or the pool of several (merged:
  // values summed and sorted).
  WindowSampler(const std::vector<const LengthWindow*>& ws, bool merge) {
    auto pooled = [&](Pmf LengthWindow::*f) {
      std::vector<const Pmf*> v;
      for (const LengthWindow* w : ws)
        if (!((*w).*f).values.empty()) v.push_back(&((*w).*f));
      return merge ? Sampler(pool(v)) : Sampler((*ws[0]).*f);
    };
    multimodal = ws.front()->multimodal;
    output = pooled(&LengthWindow::output);
    if (multimodal) {
      text = pooled(&LengthWindow::text);
      image_count = pooled(&LengthWindow::image_count);
      image = pooled(&LengthWindow::image);
      audio_count = pooled(&LengthWindow::audio_count);
      audio = pooled(&LengthWindow::audio);
      video_count = pooled(&LengthWindow::video_count);
      video = pooled(&LengthWindow::video);
    } else {
      input = pooled(&LengthWindow::input);
    }
    // reason_ratio is taken from the first window that has it (a pool of reason windows
    // would need a fractional-key pool; no category pools them).
    for (const LengthWindow* w : ws)
      if (!w->reason_values.empty()) {
        reason_values = w->reason_values;
        reason = std::discrete_distribution<size_t>(w->reason_probs.begin(), w->reason_probs.end());
        break;
      }
  }

  void draw(std::mt19937_64& rng, Request& r) {
    if (!multimodal) {
      // Language: input then output, one draw each (the order the composer has always used).
      r.prompt_tokens = std::max<uint32_t>(1, input(rng));
      r.output_tokens = std::max<uint32_t>(1, output(rng));
    } else {
      uint32_t text_tokens = text(rng), media = 0;
      auto items = [&](Sampler& count, Sampler& each) {
        if (count.empty() || each.empty()) return;
        for (uint32_t k = count(rng); k > 0; --k) media += each(rng);
      };
      items(image_count, image);
      items(audio_count, audio);
      items(video_count, video);
      r.prompt_tokens = std::max<uint32_t>(1, text_tokens + media);
      r.multimodal_tokens = media;
      r.output_tokens = std::max<uint32_t>(1, output(rng));
    }
    if (!reason_values.empty())
      r.reasoning_tokens = static_cast<uint32_t>(
          std::lround(reason_values[reason(rng)] * static_cast<double>(r.output_tokens)));
  }
};

// Pooled samplers per window start.
using Pool = std::map<double, WindowSampler>;

Pool make_pool(const ServeGenCategory& cat) {
  std::map<double, std::vector<const LengthWindow*>> by_window;
  for (const auto& c : cat.clients)
    for (const auto& w : c.lengths)
      if (!w.empty()) by_window[w.start_s].push_back(&w);
  Pool out;
  for (auto& [st, v] : by_window) out.emplace(st, WindowSampler(v, true));
  return out;
}

template <typename Map>
typename Map::mapped_type* window_at(Map& m, double t) {
  if (m.empty()) return nullptr;
  auto it = m.upper_bound(t);
  return it == m.begin() ? &m.begin()->second : &std::prev(it)->second;
}

// One client's requests in arrival order.
class ClientGen {
 public:
  ClientGen(const ServeGenClient& c, size_t index, const ComposeOptions& o, Pool* pooled)
      : c_(c), o_(o), pooled_(pooled), rng_(o.seed * 1000003ULL + index) {
    for (const auto& w : c.lengths)
      if (!w.empty()) own_.emplace(w.start_s, WindowSampler({&w}, false));
  }

  // The next request (arrival relative to start_s); false when the client has no more.
  // `pooled_used` says where its lengths came from.
  bool next(Request& r, bool& pooled_used, bool& no_pool) {
    const double end = o_.start_s + o_.duration_s;
    for (;;) {
      if (!in_window_ && !open_window()) return false;
      while (t_ < we_) {
        double t = t_;
        bool keep = t >= o_.start_s && t < end;
        WindowSampler* s = keep ? window_at(own_, t) : nullptr;
        pooled_used = false;
        if (keep && !s) {
          if (!o_.pooled_lengths_for_missing) keep = false;
          s = keep ? window_at(*pooled_, t) : nullptr;
          pooled_used = keep;
          if (keep && !s) {
            no_pool = true;
            return false;
          }
        }
        if (keep) {
          r = Request{};
          r.arrival_s = t - o_.start_s;
          s->draw(rng_, r);
        }
        t_ += gap();
        if (keep) return true;
      }
      in_window_ = false;
      ++wi_;
    }
  }

 private:
  // Sets up the next window with requests inside the span; false when there is none.
  bool open_window() {
    const double end = o_.start_s + o_.duration_s;
    for (; wi_ < c_.rates.size(); ++wi_) {
      const RateWindow& w = c_.rates[wi_];
      double ws = w.start_s;
      we_ = wi_ + 1 < c_.rates.size() ? c_.rates[wi_ + 1].start_s : w.start_s + 600;
      if (we_ <= o_.start_s || ws >= end || w.rate <= 0) continue;
      double rate = w.rate * o_.rate_scale;
      mean_gap_ = 1.0 / rate;
      dist_ = w.dist;
      // The fitted distribution's shape, rescaled to the window's mean; fresh objects per
      // window (std::gamma_distribution keeps state between draws).
      wd_ = std::weibull_distribution<double>(w.dist == RateWindow::Dist::kWeibull ? w.shape : 1.0,
                                              1.0);
      gd_ =
          std::gamma_distribution<double>(w.dist == RateWindow::Dist::kGamma ? w.shape : 1.0, 1.0);
      ed_ = std::exponential_distribution<double>(1.0);
      unit_mean_ = w.dist == RateWindow::Dist::kWeibull ? std::tgamma(1.0 + 1.0 / w.shape)
                   : w.dist == RateWindow::Dist::kGamma ? w.shape
                                                        : 1.0;
      // Start at a random phase so window edges do not line up arrivals.
      t_ = ws + std::uniform_real_distribution<double>(0, 1)(rng_) * mean_gap_;
      in_window_ = true;
      return true;
    }
    return false;
  }

  double gap() {
    double x = dist_ == RateWindow::Dist::kWeibull ? wd_(rng_)
               : dist_ == RateWindow::Dist::kGamma ? gd_(rng_)
                                                   : ed_(rng_);
    return x / unit_mean_ * mean_gap_;
  }

  const ServeGenClient& c_;
  ComposeOptions o_;
  Pool* pooled_;
  std::mt19937_64 rng_;
  std::map<double, WindowSampler> own_;
  size_t wi_ = 0;
  bool in_window_ = false;
  double t_ = 0, we_ = 0, mean_gap_ = 1, unit_mean_ = 1;
  RateWindow::Dist dist_ = RateWindow::Dist::kNone;
  std::weibull_distribution<double> wd_;
  std::gamma_distribution<double> gd_;
  std::exponential_distribution<double> ed_;
};

class ServeGenStream final : public RequestStream {
 public:
  ServeGenStream(std::shared_ptr<const ServeGenCategory> cat, const ComposeOptions& o,
                 std::shared_ptr<const ServeGenCategory> lengths_from)
      : cat_(std::move(cat)), lengths_from_(std::move(lengths_from)), o_(o) {
    report_.format = TraceFormat::kServeGenDir;
    pool_ = make_pool(lengths_from_ ? *lengths_from_ : *cat_);
    report_.lengths_source = lengths_from_ ? lengths_from_->source + " (pooled per 6 h window)"
                                           : cat_->source + " (its own clients, pooled)";
    gens_.reserve(cat_->clients.size());
    for (size_t i = 0; i < cat_->clients.size(); ++i)
      gens_.emplace_back(cat_->clients[i], i, o_, &pool_);
    heads_.resize(gens_.size());
    emitted_.assign(gens_.size(), false);
    for (size_t i = 0; i < gens_.size(); ++i) refill(i);
  }

  bool next(Request& out) override {
    if (error_ || heap_.empty()) return false;
    auto [t, i] = heap_.top();
    heap_.pop();
    out = std::move(heads_[i].r);
    out.id = report_.requests++;
    report_.requests_with_pooled_lengths += heads_[i].pooled;
    report_.reasoning_tokens += out.reasoning_tokens;
    report_.multimodal_tokens += out.multimodal_tokens;
    if (!emitted_[i]) {
      emitted_[i] = true;
      ++report_.clients_with_requests;
    }
    refill(i);
    return true;
  }

 private:
  struct Head {
    Request r;
    bool pooled = false;
  };
  void refill(size_t i) {
    bool no_pool = false;
    if (gens_[i].next(heads_[i].r, heads_[i].pooled, no_pool)) {
      heap_.push({heads_[i].r.arrival_s, i});
    } else if (no_pool && !error_) {
      error_ = failed_precondition(
          "no client of " + (lengths_from_ ? lengths_from_->source : cat_->source) +
          " has length distributions to pool (give --lengths-from a category that has them, "
          "e.g. language/m-large)");
    }
  }

  std::shared_ptr<const ServeGenCategory> cat_;  // shared by every replay of a workload
  std::shared_ptr<const ServeGenCategory> lengths_from_;
  ComposeOptions o_;
  Pool pool_;
  std::vector<ClientGen> gens_;
  std::vector<Head> heads_;
  std::vector<bool> emitted_;
  // (arrival, client): ties between clients go to the lower client index.
  std::priority_queue<std::pair<double, size_t>, std::vector<std::pair<double, size_t>>,
                      std::greater<>>
      heap_;
};

}  // namespace

Result<std::unique_ptr<RequestStream>> compose_stream(
    std::shared_ptr<const ServeGenCategory> cat, const ComposeOptions& o,
    std::shared_ptr<const ServeGenCategory> lengths_from) {
  if (o.rate_scale <= 0 || o.duration_s <= 0)
    return invalid_argument("rate_scale and duration must be positive");
  auto s = std::make_unique<ServeGenStream>(std::move(cat), o, std::move(lengths_from));
  if (s->error()) return *s->error();
  return std::unique_ptr<RequestStream>(std::move(s));
}

Result<std::vector<Request>> compose(const ServeGenCategory& cat, const ComposeOptions& o,
                                     ComposeReport* report) {
  auto s = compose_stream(std::make_shared<const ServeGenCategory>(cat), o);
  if (!s.ok()) return s.error();
  std::vector<Request> out;
  Request r;
  while ((*s)->next(r)) out.push_back(std::move(r));
  if ((*s)->error()) return *(*s)->error();
  if (report) {
    report->requests = out.size();
    report->requests_with_pooled_lengths = (*s)->report().requests_with_pooled_lengths;
    report->clients = (*s)->report().clients_with_requests;
  }
  return out;
}

}  // namespace hs::workload
