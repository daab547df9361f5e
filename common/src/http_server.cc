// hs::http::Server on Asio's event loop: a fixed set of threads reads and writes every
// connection (a coroutine each, on its own strand), so an idle or half-sent connection costs
// a socket and a few kilobytes, never a thread; the synchronous handlers run on a
// BlockingPool beside the loop. Every phase of a connection has its own deadline (waiting for
// a request, its headers, its body, each write) and every limit its own answer: 408, 413,
// 431, 400, or 503 past the connection cap.
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <cstdio>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "blocking_pool.h"
#include "hs/common/fd_limit.h"
#include "hs/common/http.h"
#include "hs/common/http_async.h"
#include "hs/common/text.h"

namespace hs::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using boost::system::error_code;

namespace {

struct Session {
  explicit Session(tcp::socket s) : stream(std::move(s)) {}
  beast::tcp_stream stream;
  std::atomic<bool> busy{false};  // a handler (or its stream) runs for it
};

std::string status_line_response(int status, std::string_view message) {
  Response e = error_response(status, message);
  std::string reason(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: " +
         std::to_string(e.body.size()) + "\r\n\r\n" + e.body;
}

// One HTTP/1.1 chunk, owned by the caller until written.
std::string chunk_of(std::string_view data) {
  char size[20];
  int n = std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string c(size, static_cast<size_t>(n));
  c.append(data);
  c += "\r\n";
  return c;
}

// A read's deadline that cancels the read rather than closing the socket (tcp_stream's
// timeouts close it), so that a 408 can still be sent. While it lives, the stream's own
// timeout is off.
class CancelAfter {
 public:
  CancelAfter(const std::shared_ptr<Session>& ss, std::chrono::seconds limit)
      : timer_(ss->stream.get_executor()), fired_(std::make_shared<bool>(false)) {
    ss->stream.expires_never();
    timer_.expires_after(limit);
    timer_.async_wait([ss, fired = fired_](error_code e) {
      if (e) return;
      *fired = true;
      error_code ignored;
      ss->stream.socket().cancel(ignored);
    });
  }
  ~CancelAfter() { timer_.cancel(); }
  bool fired() const { return *fired_; }

 private:
  net::steady_timer timer_;
  std::shared_ptr<bool> fired_;
};

// A coroutine handler's stream writer: each chunk is written on the connection's strand, where
// the handler runs, and waited for.
class SessionSink final : public ChunkSink {
 public:
  SessionSink(std::shared_ptr<Session> ss, const std::atomic<bool>& stopping,
              std::chrono::seconds timeout)
      : ss_(std::move(ss)), stopping_(stopping), timeout_(timeout) {}
  Task<bool> write(std::string_view data) override {
    if (!alive_ || stopping_) co_return false;
    if (data.empty()) co_return true;
    std::string c = chunk_of(data);  // before the first suspension: `data` is the caller's
    error_code ec;
    ss_->stream.expires_after(timeout_);
    co_await net::async_write(ss_->stream, net::buffer(c),
                              net::redirect_error(net::use_awaitable, ec));
    alive_ = !ec;
    co_return alive_;
  }
  bool alive() const { return alive_ && !stopping_; }

 private:
  std::shared_ptr<Session> ss_;
  const std::atomic<bool>& stopping_;
  std::chrono::seconds timeout_;
  bool alive_ = true;
};

ServerOptions resolved(ServerOptions o) {
  if (o.max_connections == 0) {
    size_t fds = fd_limit();
    o.max_connections = fds > 192 ? (fds - 64) / 2 : 64;
  }
  return o;
}

}  // namespace

struct Server::Impl {
  explicit Impl(const ServerOptions& o)
      : opts(resolved(o)),
        blocking(opts.max_connections),
        delay(ioc),
        work(net::make_work_guard(ioc)) {}

  ServerOptions opts;
  Handler handler;
  AsyncRoute async;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  BlockingPool blocking;
  net::steady_timer delay;
  net::executor_work_guard<net::io_context::executor_type> work;
  std::vector<std::thread> threads;
  std::atomic<bool> stopping{false};
  std::atomic<bool> draining{false};  // no new connections, no keep-alive
  std::atomic<size_t> in_flight{0};   // handlers running, streams included
  mutable std::mutex mu;
  std::unordered_map<uint64_t, std::weak_ptr<Session>> sessions;
  uint64_t next_id = 0;

  // Runs the handler on the blocking pool; the coroutine resumes on its strand with the answer.
  net::awaitable<Response> run_handler(Request req) {
    return run_blocking([this, req = std::move(req)]() {
      try {
        return handler(req);
      } catch (const std::exception& e) {
        return error_response(500, std::string("internal error: ") + e.what(), "internal_error");
      }
    });
  }

  net::awaitable<AsyncResponse> run_async(Request req) {
    try {
      co_return co_await async.handler(std::move(req));
    } catch (const std::exception& e) {
      AsyncResponse r;
      r.head = error_response(500, std::string("internal error: ") + e.what(), "internal_error");
      co_return r;
    }
  }

  net::awaitable<void> stream_async(const std::shared_ptr<Session>& ss, AsyncResponse& resp) {
    SessionSink sink(ss, stopping, opts.read_timeout);
    try {
      co_await resp.stream(sink);
    } catch (const std::exception&) {
      co_return;  // the chunked body stops short: the client sees a broken stream
    }
    if (sink.alive()) co_await end_chunks(ss->stream);
  }

  // The last chunk of a streamed body, for a client still there.
  net::awaitable<void> end_chunks(beast::tcp_stream& stream) {
    error_code ec;
    stream.expires_after(opts.read_timeout);
    co_await net::async_write(stream, net::buffer(std::string_view("0\r\n\r\n")),
                              net::redirect_error(net::use_awaitable, ec));
  }

  // The stream's chunks are written from the handler's pool thread, each waited for: a
  // client that reads slowly slows the generator instead of queueing a whole generation here,
  // and one that stops reading for read_timeout is cut.
  net::awaitable<void> stream_body(const std::shared_ptr<Session>& ss, Response resp) {
    auto& stream = ss->stream;
    auto ex = stream.get_executor();
    auto alive = std::make_shared<std::atomic<bool>>(true);
    auto write_blocking = [this, ss, ex, alive](std::string_view data) {
      if (!*alive || stopping) return false;
      if (data.empty()) return true;
      // Owned by the write (not this frame): the waiter may return before set_value does.
      auto c = std::make_shared<std::string>(chunk_of(data));
      auto done = std::make_shared<std::promise<bool>>();
      auto fut = done->get_future();
      net::post(ex, [this, ss, c, done] {
        ss->stream.expires_after(opts.read_timeout);
        net::async_write(ss->stream, net::buffer(*c),
                         [c, done](error_code e, size_t) { done->set_value(!e); });
      });
      *alive = fut.get();
      return alive->load();
    };
    // A named callable, not a temporary inside the co_await: GCC 12 destroys a lambda
    // temporary of a co_await expression twice (seen here under ASan).
    auto run = [body = std::move(resp.stream), write_blocking]() {
      body(StreamWriter(write_blocking));
      return Response{};
    };
    Response ignored = co_await run_blocking(std::move(run));
    (void)ignored;
    if (*alive && !stopping) co_await end_chunks(stream);
  }

  // Runs f() -> Response on the blocking pool and resumes on the calling coroutine's executor.
  template <typename F>
  net::awaitable<Response> run_blocking(F f) {
    auto ex = co_await net::this_coro::executor;
    auto init = [this, ex, &f](auto done) {
      blocking.post(std::packaged_task<void()>([ex, f = std::move(f),
                                                done = std::move(done)]() mutable {
        Response r = f();
        net::post(ex, [done = std::move(done), r = std::move(r)]() mutable { done(std::move(r)); });
      }));
    };
    Response r = co_await net::async_initiate<const net::use_awaitable_t<>&, void(Response)>(
        std::move(init), net::use_awaitable);
    co_return r;
  }

  net::awaitable<void> write_response(beast::tcp_stream& stream, Response resp, bool keep_alive,
                                      error_code& ec) {
    bhttp::response<bhttp::string_body> r{static_cast<bhttp::status>(resp.status), 11};
    r.set(bhttp::field::content_type, resp.content_type);
    for (const auto& [k, v] : resp.headers) r.set(k, v);
    r.body() = std::move(resp.body);
    r.keep_alive(keep_alive);
    r.prepare_payload();
    stream.expires_after(opts.read_timeout);
    co_await bhttp::async_write(stream, r, net::redirect_error(net::use_awaitable, ec));
  }

  // After an error answer: stop sending, read (and drop) what the client is still sending for
  // a moment, then close, so that the kernel does not reset the connection over unread input
  // before the client has read the answer.
  net::awaitable<void> linger(beast::tcp_stream& stream) {
    error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    char sink[16384];
    size_t total = 0;
    stream.expires_after(std::chrono::seconds(1));
    while (!ec && total < (size_t{4} << 20)) {
      size_t n = co_await stream.async_read_some(net::buffer(sink),
                                                 net::redirect_error(net::use_awaitable, ec));
      total += n;
    }
  }

  net::awaitable<void> serve(std::shared_ptr<Session> ss, uint64_t id);
  net::awaitable<void> refuse(tcp::socket s);
  net::awaitable<void> accept_loop();
  void forget(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(id);
  }
};

net::awaitable<void> Server::Impl::serve(std::shared_ptr<Session> ss, uint64_t id) {
  auto& stream = ss->stream;
  std::string peer;
  {
    error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) peer = ep.address().to_string() + ":" + std::to_string(ep.port());
  }
  beast::flat_buffer buf;
  for (;;) {
    error_code ec;
    if (buf.size() == 0) {  // between requests: the keep-alive idle deadline
      stream.expires_after(opts.read_timeout);
      size_t n = co_await stream.async_read_some(buf.prepare(4096),
                                                 net::redirect_error(net::use_awaitable, ec));
      if (ec) break;  // closed or idle too long: nothing owed
      buf.commit(n);
    }
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(opts.max_body_bytes);
    parser.header_limit(static_cast<std::uint32_t>(opts.max_header_bytes));
    const char* phase = "headers";
    {
      CancelAfter deadline(ss, opts.header_timeout);
      co_await bhttp::async_read_header(stream, buf, parser,
                                        net::redirect_error(net::use_awaitable, ec));
      if (deadline.fired()) ec = beast::error::timeout;
    }
    if (!ec) {
      size_t fields = 0;
      for (auto it = parser.get().begin(); it != parser.get().end(); ++it) ++fields;
      if (fields > opts.max_header_fields) {
        std::string a = status_line_response(
            431, "more than " + std::to_string(opts.max_header_fields) + " header fields");
        co_await net::async_write(stream, net::buffer(a),
                                  net::redirect_error(net::use_awaitable, ec));
        co_await linger(stream);
        break;
      }
      if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        co_await net::async_write(stream, net::buffer(cont),
                                  net::redirect_error(net::use_awaitable, ec));
      }
      phase = "body";
      if (!ec) {
        CancelAfter deadline(ss, opts.read_timeout);
        co_await bhttp::async_read(stream, buf, parser,
                                   net::redirect_error(net::use_awaitable, ec));
        if (deadline.fired()) ec = beast::error::timeout;
      }
    }
    if (ec) {
      if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
          ec == net::error::connection_reset || ec == net::error::operation_aborted || stopping)
        break;  // the client went (or we are stopping): nobody to answer
      std::string answer;
      if (ec == beast::error::timeout)
        answer = status_line_response(
            408, std::string("request ") + phase + " not received within " +
                     std::to_string(phase[0] == 'h' ? opts.header_timeout.count()
                                                    : opts.read_timeout.count()) +
                     " s");
      else if (ec == bhttp::error::body_limit)
        answer = status_line_response(
            413, "request body larger than " + std::to_string(opts.max_body_bytes) + " bytes");
      else if (ec == bhttp::error::header_limit)
        answer = status_line_response(
            431, "request headers larger than " + std::to_string(opts.max_header_bytes) + " bytes");
      else
        answer = status_line_response(400, "malformed HTTP request: " + ec.message());
      error_code wec;
      stream.expires_after(std::chrono::seconds(5));
      co_await net::async_write(stream, net::buffer(answer),
                                net::redirect_error(net::use_awaitable, wec));
      co_await linger(stream);
      break;
    }
    auto& m = parser.get();
    Request req;
    req.method = std::string(m.method_string());
    req.target = std::string(m.target());
    req.body = std::move(m.body());
    req.peer = peer;
    for (const auto& f : m)
      req.headers[to_lower(std::string(f.name_string()))] = std::string(f.value());
    bool keep_alive = m.keep_alive();
    ss->busy = true;
    ++in_flight;
    AsyncResponse ar;
    if (async.wants && async.wants(req))
      ar = co_await run_async(std::move(req));
    else
      ar.head = co_await run_handler(std::move(req));
    Response& resp = ar.head;
    if (resp.stream || ar.stream) {
      bhttp::response<bhttp::empty_body> h{static_cast<bhttp::status>(resp.status), 11};
      h.set(bhttp::field::content_type, resp.content_type);
      h.set(bhttp::field::cache_control, "no-cache");
      for (const auto& [k, v] : resp.headers) h.set(k, v);
      h.chunked(true);
      h.keep_alive(false);
      bhttp::response_serializer<bhttp::empty_body> sr{h};
      stream.expires_after(opts.read_timeout);
      co_await bhttp::async_write_header(stream, sr, net::redirect_error(net::use_awaitable, ec));
      if (!ec && ar.stream)
        co_await stream_async(ss, ar);
      else if (!ec)
        co_await stream_body(ss, std::move(resp));
      --in_flight;
      break;
    }
    keep_alive = keep_alive && resp.status < 400 && !stopping && !draining;
    co_await write_response(stream, std::move(resp), keep_alive, ec);
    ss->busy = false;
    --in_flight;
    if (ec || !keep_alive) break;
  }
  error_code ec;
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  stream.socket().close(ec);
  forget(id);
}

net::awaitable<void> Server::Impl::refuse(tcp::socket s) {
  beast::tcp_stream stream(std::move(s));
  std::string a = status_line_response(
      503, "server at its limit of " + std::to_string(opts.max_connections) + " connections");
  error_code ec;
  stream.expires_after(std::chrono::seconds(2));
  co_await net::async_write(stream, net::buffer(a), net::redirect_error(net::use_awaitable, ec));
  co_await linger(stream);
}

net::awaitable<void> Server::Impl::accept_loop() {
  error_code ec;
  if (opts.accept_delay.count() > 0) {
    delay.expires_after(opts.accept_delay);
    co_await delay.async_wait(net::redirect_error(net::use_awaitable, ec));
  }
  while (!stopping) {
    tcp::socket s(net::make_strand(ioc));
    co_await acceptor.async_accept(s, net::redirect_error(net::use_awaitable, ec));
    if (stopping) break;
    if (ec) {  // EMFILE and friends: back off a moment rather than spin
      delay.expires_after(std::chrono::milliseconds(20));
      co_await delay.async_wait(net::redirect_error(net::use_awaitable, ec));
      continue;
    }
    // Answers and stream chunks are small writes that must leave at once: no Nagle delay
    // behind the peer's delayed ACK.
    s.set_option(tcp::no_delay(true), ec);
    std::shared_ptr<Session> ss;
    uint64_t id = 0;
    {
      std::lock_guard<std::mutex> lock(mu);
      if (sessions.size() < opts.max_connections) {
        ss = std::make_shared<Session>(std::move(s));
        id = ++next_id;
        sessions.emplace(id, ss);
      }
    }
    if (!ss) {
      auto ex = s.get_executor();
      net::co_spawn(ex, refuse(std::move(s)), net::detached);
      continue;
    }
    auto ex = ss->stream.get_executor();
    net::co_spawn(ex, serve(std::move(ss), id), net::detached);
  }
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Server>> Server::start(const ServerOptions& options, Handler handler) {
  return start(options, std::move(handler), AsyncRoute{});
}

Result<std::unique_ptr<Server>> Server::start(const ServerOptions& options, Handler handler,
                                              AsyncRoute async) {
  auto impl = std::make_unique<Impl>(options);
  impl->handler = std::move(handler);
  impl->async = std::move(async);
  error_code ec;
  auto addr = net::ip::make_address(options.host, ec);
  if (ec) return invalid_argument("bad listen address " + quote(options.host));
  tcp::endpoint ep(addr, options.port);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec)
    return unavailable("cannot listen: " + ec.message(),
                       options.host + ":" + std::to_string(options.port));
  Impl* raw = impl.get();
  net::co_spawn(impl->ioc, raw->accept_loop(), net::detached);
  size_t n = options.threads ? options.threads : std::max(2u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < n; ++i) impl->threads.emplace_back([raw] { raw->ioc.run(); });
  return std::make_unique<Server>(std::move(impl));
}

Server::~Server() { stop(); }

uint16_t Server::port() const {
  error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

size_t Server::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->sessions.size();
}

namespace {

void close_acceptor(Server::Impl& s) {
  std::promise<void> closed;
  net::post(s.ioc, [&s, &closed] {
    error_code ec;
    s.acceptor.close(ec);
    s.delay.cancel();
    closed.set_value();
  });
  closed.get_future().wait();
}

}  // namespace

size_t Server::drain(std::chrono::milliseconds bound) {
  if (!impl_ || impl_->stopping) return 0;
  Impl& s = *impl_;
  if (!s.draining.exchange(true)) {
    close_acceptor(s);
    // Connections waiting for a next request get none: close them now.
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto& [id, weak] : s.sessions)
      if (auto ss = weak.lock(); ss && !ss->busy)
        net::post(ss->stream.get_executor(), [ss] {
          error_code ec;
          if (!ss->busy) ss->stream.socket().close(ec);
        });
  }
  auto end = std::chrono::steady_clock::now() + bound;
  while (s.in_flight > 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  size_t cut = s.in_flight;
  stop();
  return cut;
}

void Server::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  Impl& s = *impl_;
  if (!s.draining) close_acceptor(s);
  {  // every connection closed on its own strand: its pending reads and writes end at once
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto& [id, weak] : s.sessions)
      if (auto ss = weak.lock())
        net::post(ss->stream.get_executor(), [ss] {
          error_code ec;
          ss->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
          ss->stream.socket().close(ec);
        });
  }
  // Handlers finish (a stream's writer now returns false); their coroutines then end.
  s.blocking.join();
  for (int i = 0; i < 200 && open_connections() > 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  s.work.reset();
  s.ioc.stop();
  for (auto& t : s.threads)
    if (t.joinable()) t.join();
}

}  // namespace hs::http
