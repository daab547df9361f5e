// hs::http::AsyncClient and AsyncStream: upstream calls from coroutines on the server's loop.
// Sockets are plain tcp::socket (not beast::tcp_stream, whose timeout handler runs on the
// executor the stream was made with): a pooled connection is used next by a coroutine on
// another strand, and every deadline here is a timer on the *calling* coroutine's executor, so
// that its cancel never runs beside the operation it cancels.
// GCC 12 misreads Asio 1.74's coroutine frame allocator as a new/delete mismatch once these
// coroutines are inlined (see http_batch.cc); the pairing is Asio's own and correct.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <mutex>

#include "hs/common/http_async.h"
#include "http_message.h"

namespace hs::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;
using Socket = std::shared_ptr<tcp::socket>;
using detail::step_error;

namespace {

void cancel_op(tcp::socket& s) {
  error_code ignored;  // already closed: nothing to cancel
  s.cancel(ignored);
}
void cancel_op(tcp::resolver& r) { r.cancel(); }

// Cancels a socket's (or resolver's) pending operation when `limit` passes; the operation then
// ends with operation_aborted, which step_error words as "timed out after N ms". Its timer runs
// on the coroutine's executor, like the operation's completion, so the cancel never races it;
// `armed` disarms a wake-up already queued when the step finished just in time.
template <typename Cancellable>
class Deadline {
 public:
  Deadline(const net::any_io_executor& ex, std::shared_ptr<Cancellable> target,
           std::chrono::milliseconds limit)
      : timer_(ex), armed_(std::make_shared<bool>(true)) {
    timer_.expires_after(limit);
    timer_.async_wait([target = std::move(target), armed = armed_](error_code e) {
      if (!e && *armed) cancel_op(*target);
    });
  }
  ~Deadline() {
    *armed_ = false;
    timer_.cancel();
  }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

 private:
  net::steady_timer timer_;
  std::shared_ptr<bool> armed_;
};

// A kept-alive connection the peer closed meanwhile fails its reuse like this, before any
// byte of an answer: the request never reached a handler, so sending it again is safe.
bool stale(const error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe;
}

void close_socket(const Socket& s) {
  error_code ec;
  s->shutdown(tcp::socket::shutdown_both, ec);
  s->close(ec);
}

std::chrono::milliseconds connect_limit(const ClientOptions& o) {
  return o.connect_timeout.count() > 0 ? std::min(o.connect_timeout, o.timeout) : o.timeout;
}

}  // namespace

struct AsyncClient::Pool {
  explicit Pool(size_t m) : max_idle(m) {}
  const size_t max_idle;
  mutable std::mutex mu;
  std::map<std::string, std::vector<Socket>> idle;
  uint64_t opened = 0;
  bool closed = false;  // close(): nothing is kept from now on

  Socket take(const std::string& key) {
    std::lock_guard<std::mutex> lk(mu);
    auto it = idle.find(key);
    if (it == idle.end() || it->second.empty()) return nullptr;
    Socket s = std::move(it->second.back());
    it->second.pop_back();
    return s;
  }
  void give(const std::string& key, Socket s) {
    std::lock_guard<std::mutex> lk(mu);
    auto& v = idle[key];
    if (!closed && s->is_open() && v.size() < max_idle)
      v.push_back(std::move(s));
    else
      close_socket(s);
  }

  // Resolves (names only) and connects under the call's connect deadline.
  Task<Result<Socket>> connect(const Call& c) {
    auto ex = co_await net::this_coro::executor;
    const auto limit = connect_limit(c.options);
    const std::string where = c.host + ":" + std::to_string(c.port);
    error_code ec;
    std::vector<tcp::endpoint> eps;
    auto addr = net::ip::make_address(c.host, ec);
    if (!ec) {
      eps.emplace_back(addr, c.port);
    } else {
      // A name inside getaddrinfo() returns in its own time (Asio 1.74 cannot interrupt it);
      // the deadline cancels one still queued. Endpoints are addresses in practice.
      auto resolver = std::make_shared<tcp::resolver>(ex);
      Deadline<tcp::resolver> d(ex, resolver, limit);
      auto rs = co_await resolver->async_resolve(c.host, std::to_string(c.port),
                                                 net::redirect_error(net::use_awaitable, ec));
      if (ec) co_return step_error("cannot resolve", ec, limit, c.host);
      for (const auto& r : rs) eps.push_back(r.endpoint());
    }
    auto s = std::make_shared<tcp::socket>(ex);
    {
      Deadline<tcp::socket> d(ex, s, limit);
      co_await net::async_connect(*s, eps, net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) co_return step_error("cannot connect", ec, limit, where);
    s->set_option(tcp::no_delay(true), ec);
    {
      std::lock_guard<std::mutex> lk(mu);
      ++opened;
    }
    co_return s;
  }

  struct Sent {
    Socket s;
    bool reused = false;
  };
  // Sends the call on an idle connection to its peer (unless `fresh`) or a new one.
  Task<Result<Sent>> send(const Call& c, bool fresh) {
    auto ex = co_await net::this_coro::executor;
    const std::string key = c.host + ":" + std::to_string(c.port);
    Sent out;
    for (;;) {
      out.s = fresh ? nullptr : take(key);
      out.reused = out.s != nullptr;
      if (!out.s) {
        auto r = co_await connect(c);
        if (!r.ok()) co_return r.error();
        out.s = std::move(*r);
      }
      auto req = detail::make_request(c.host, c.method, c.target, c.body, c.options, true);
      error_code ec;
      {
        Deadline<tcp::socket> d(ex, out.s, c.options.timeout);
        co_await bhttp::async_write(*out.s, req, net::redirect_error(net::use_awaitable, ec));
      }
      if (!ec) co_return out;
      close_socket(out.s);
      if (!out.reused) co_return step_error("cannot send", ec, c.options.timeout, key);
      fresh = true;  // the peer had closed the idle connection: once more on a new one
    }
  }
};

struct AsyncStream::State {
  std::shared_ptr<AsyncClient::Pool> pool;
  std::string key, where;
  Socket s;
  std::chrono::milliseconds timeout{0};
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::buffer_body> parser;
  std::map<std::string, std::string> headers;
  bool failed = false;
  char chunk[16384];

  ~State() {
    if (!s) return;
    if (!failed && parser.is_done() && parser.keep_alive() && buf.size() == 0)
      pool->give(key, std::move(s));
    else
      close_socket(s);
  }
};

AsyncStream::AsyncStream(std::unique_ptr<State> s) : s_(std::move(s)) {}
AsyncStream::~AsyncStream() = default;
AsyncStream::AsyncStream(AsyncStream&&) noexcept = default;
AsyncStream& AsyncStream::operator=(AsyncStream&&) noexcept = default;
int AsyncStream::status() const { return s_ ? static_cast<int>(s_->parser.get().result_int()) : 0; }
const std::map<std::string, std::string>& AsyncStream::headers() const { return s_->headers; }

Task<Result<std::string>> AsyncStream::next() {
  State& st = *s_;
  auto ex = co_await net::this_coro::executor;
  while (!st.failed && !st.parser.is_done()) {
    st.parser.get().body().data = st.chunk;
    st.parser.get().body().size = sizeof st.chunk;
    error_code ec;
    {
      // read_some: hand over what has arrived; the deadline is the longest silence allowed.
      Deadline<tcp::socket> d(ex, st.s, st.timeout);
      co_await bhttp::async_read_some(*st.s, st.buf, st.parser,
                                      net::redirect_error(net::use_awaitable, ec));
    }
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) {
      st.failed = true;
      co_return step_error("stream broken", ec, st.timeout, st.where);
    }
    size_t n = sizeof st.chunk - st.parser.get().body().size;
    if (n > 0) co_return std::string(st.chunk, n);
  }
  co_return std::string();
}

AsyncClient::AsyncClient(size_t max_idle_per_peer)
    : pool_(std::make_shared<Pool>(max_idle_per_peer)) {}
AsyncClient::~AsyncClient() = default;

void AsyncClient::close() {
  std::map<std::string, std::vector<Socket>> gone;
  {
    std::lock_guard<std::mutex> lk(pool_->mu);
    pool_->closed = true;
    gone.swap(pool_->idle);
  }
  for (auto& [k, v] : gone)
    for (auto& s : v) close_socket(s);
}

size_t AsyncClient::idle() const {
  std::lock_guard<std::mutex> lk(pool_->mu);
  size_t n = 0;
  for (const auto& [k, v] : pool_->idle) n += v.size();
  return n;
}

uint64_t AsyncClient::opened() const {
  std::lock_guard<std::mutex> lk(pool_->mu);
  return pool_->opened;
}

Task<Result<ClientResponse>> AsyncClient::request(Call c) {
  auto pool = pool_;  // the frame keeps the pool alive
  auto ex = co_await net::this_coro::executor;
  const std::string key = c.host + ":" + std::to_string(c.port);
  for (bool fresh = false;; fresh = true) {
    auto sent = co_await pool->send(c, fresh);
    if (!sent.ok()) co_return sent.error();
    beast::flat_buffer buf;
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(size_t{256} << 20);
    error_code ec;
    {
      Deadline<tcp::socket> d(ex, sent->s, c.options.timeout);
      co_await bhttp::async_read(*sent->s, buf, p, net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) {
      close_socket(sent->s);
      if (sent->reused && !fresh && !p.got_some() && stale(ec)) continue;
      co_return step_error("no response", ec, c.options.timeout, key + c.target);
    }
    const bool keep = p.keep_alive() && buf.size() == 0;
    ClientResponse out = detail::to_response(p);
    if (keep)
      pool->give(key, std::move(sent->s));
    else
      close_socket(sent->s);
    co_return out;
  }
}

Task<Result<AsyncStream>> AsyncClient::open(Call c) {
  auto pool = pool_;
  auto ex = co_await net::this_coro::executor;
  const std::string key = c.host + ":" + std::to_string(c.port);
  for (bool fresh = false;; fresh = true) {
    auto sent = co_await pool->send(c, fresh);
    if (!sent.ok()) co_return sent.error();
    auto st = std::make_unique<AsyncStream::State>();
    st->pool = pool;
    st->key = key;
    st->where = key + c.target;
    st->timeout = c.options.timeout;
    st->s = std::move(sent->s);
    st->parser.body_limit(boost::none);
    error_code ec;
    {
      Deadline<tcp::socket> d(ex, st->s, c.options.timeout);
      co_await bhttp::async_read_header(*st->s, st->buf, st->parser,
                                        net::redirect_error(net::use_awaitable, ec));
    }
    if (ec) {
      st->failed = true;
      bool retry = sent->reused && !fresh && !st->parser.got_some() && stale(ec);
      if (retry) continue;
      co_return step_error("no response", ec, c.options.timeout, st->where);
    }
    for (const auto& f : st->parser.get())
      st->headers[to_lower(std::string(f.name_string()))] = std::string(f.value());
    co_return AsyncStream(std::move(st));
  }
}

}  // namespace hs::http
