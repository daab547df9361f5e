#include "hs/common/http.h"

#include <sys/socket.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <condition_variable>
#include <cstdint>
#include <list>
#include <mutex>
#include <thread>

#include "hs/common/text.h"

namespace hs::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

std::string Request::path() const { return target.substr(0, target.find('?')); }

Response error_response(int status, std::string_view message, std::string_view type) {
  Response r;
  r.status = status;
  std::string m;
  for (char c : message) {  // a JSON string by hand: escape what JSON requires
    if (c == '"' || c == '\\')
      m += '\\', m += c;
    else if (static_cast<unsigned char>(c) < 0x20)
      m += ' ';
    else
      m += c;
  }
  r.body = "{\"error\": {\"message\": \"" + m + "\", \"type\": \"" + std::string(type) +
           "\", \"code\": " + std::to_string(status) + "}}";
  return r;
}

namespace {

void set_timeout(tcp::socket& s, std::chrono::milliseconds t) {
  timeval tv{static_cast<time_t>(t.count() / 1000),
             static_cast<suseconds_t>((t.count() % 1000) * 1000)};
  setsockopt(s.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(s.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

struct Server::Impl {
  ServerOptions opts;
  Handler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::thread accept_thread;
  std::atomic<bool> stopping{false};
  struct Conn {
    tcp::socket socket;
    std::thread thread;
    std::atomic<bool> done{false};
    explicit Conn(tcp::socket s) : socket(std::move(s)) {}
  };
  mutable std::mutex mu;
  std::list<std::shared_ptr<Conn>> conns;

  void reap() {  // joins finished connection threads; mu held
    for (auto it = conns.begin(); it != conns.end();) {
      if ((*it)->done) {
        if ((*it)->thread.joinable()) (*it)->thread.join();
        it = conns.erase(it);
      } else {
        ++it;
      }
    }
  }

  void serve(const std::shared_ptr<Conn>& c) {
    beast::flat_buffer buf;
    set_timeout(c->socket, opts.read_timeout);
    boost::system::error_code ec;
    std::string peer;
    auto ep = c->socket.remote_endpoint(ec);
    if (!ec) peer = ep.address().to_string() + ":" + std::to_string(ep.port());
    for (;;) {
      bhttp::request_parser<bhttp::string_body> parser;
      parser.body_limit(opts.max_body_bytes);
      parser.header_limit(64 * 1024);
      bhttp::read(c->socket, buf, parser, ec);
      if (ec == bhttp::error::end_of_stream || ec == net::error::eof ||
          ec == net::error::connection_reset)
        break;
      Response resp;
      bool keep_alive = false;
      Request req;
      if (ec) {
        if (ec == bhttp::error::body_limit)
          resp = error_response(
              413, "request body larger than " + std::to_string(opts.max_body_bytes) + " bytes");
        else if (ec == net::error::would_block || ec == net::error::timed_out ||
                 ec == net::error::try_again)
          break;
        else
          resp = error_response(400, "malformed HTTP request: " + ec.message());
      } else {
        auto& m = parser.get();
        req.method = std::string(m.method_string());
        req.target = std::string(m.target());
        req.body = std::move(m.body());
        req.peer = peer;
        for (const auto& f : m)
          req.headers[to_lower(std::string(f.name_string()))] = std::string(f.value());
        keep_alive = m.keep_alive();
        try {
          resp = handler(req);
        } catch (const std::exception& e) {
          resp = error_response(500, std::string("internal error: ") + e.what(), "internal_error");
        }
      }
      if (resp.stream) {
        bhttp::response<bhttp::empty_body> h{static_cast<bhttp::status>(resp.status), 11};
        h.set(bhttp::field::content_type, resp.content_type);
        h.set(bhttp::field::cache_control, "no-cache");
        for (const auto& [k, v] : resp.headers) h.set(k, v);
        h.chunked(true);
        h.keep_alive(false);
        bhttp::response_serializer<bhttp::empty_body> sr{h};
        bhttp::write_header(c->socket, sr, ec);
        if (ec) break;
        bool alive = true;
        resp.stream([&](std::string_view chunk) {
          if (!alive || stopping) return false;
          if (chunk.empty()) return true;
          net::write(c->socket, bhttp::make_chunk(net::const_buffer(chunk.data(), chunk.size())),
                     ec);
          alive = !ec;
          return alive;
        });
        if (alive) net::write(c->socket, bhttp::make_chunk_last(), ec);
        break;
      }
      bhttp::response<bhttp::string_body> r{static_cast<bhttp::status>(resp.status), 11};
      r.set(bhttp::field::content_type, resp.content_type);
      for (const auto& [k, v] : resp.headers) r.set(k, v);
      r.body() = std::move(resp.body);
      r.keep_alive(keep_alive && resp.status < 400);
      r.prepare_payload();
      bhttp::write(c->socket, r, ec);
      if (ec || !r.keep_alive() || stopping) break;
    }
    c->socket.shutdown(tcp::socket::shutdown_both, ec);
    c->done = true;
  }

  std::mutex delay_mu;
  std::condition_variable delay_cv;

  void accept_loop() {
    if (opts.accept_delay.count() > 0) {
      std::unique_lock<std::mutex> lk(delay_mu);
      delay_cv.wait_for(lk, opts.accept_delay, [&] { return stopping.load(); });
    }
    for (;;) {
      boost::system::error_code ec;
      tcp::socket s(ioc);
      acceptor.accept(s, ec);
      if (stopping) return;
      if (ec) continue;
      std::lock_guard<std::mutex> lock(mu);
      reap();
      if (conns.size() >= opts.max_connections) {
        s.close(ec);  // over the limit: refuse rather than queue without bound
        continue;
      }
      auto c = std::make_shared<Conn>(std::move(s));
      conns.push_back(c);
      c->thread = std::thread([this, c] { serve(c); });
    }
  }
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<Server>> Server::start(const ServerOptions& options, Handler handler) {
  auto impl = std::make_unique<Impl>();
  impl->opts = options;
  impl->handler = std::move(handler);
  boost::system::error_code ec;
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
  impl->accept_thread = std::thread([raw] { raw->accept_loop(); });
  return std::make_unique<Server>(std::move(impl));
}

Server::~Server() { stop(); }

uint16_t Server::port() const {
  boost::system::error_code ec;
  return impl_->acceptor.local_endpoint(ec).port();
}

size_t Server::open_connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  size_t n = 0;
  for (const auto& c : impl_->conns) n += !c->done;
  return n;
}

void Server::stop() {
  if (!impl_ || impl_->stopping.exchange(true)) return;
  {
    std::lock_guard<std::mutex> lk(impl_->delay_mu);
    impl_->delay_cv.notify_all();
  }
  boost::system::error_code ec;
  uint16_t p = port();
  impl_->acceptor.cancel(ec);
  impl_->acceptor.close(ec);
  {  // wake a blocked accept(): connect to ourselves once
    net::io_context io;
    tcp::socket s(io);
    s.connect(tcp::endpoint(net::ip::make_address(
                                impl_->opts.host == "0.0.0.0" ? "127.0.0.1" : impl_->opts.host, ec),
                            p),
              ec);
  }
  if (impl_->accept_thread.joinable()) impl_->accept_thread.join();
  std::list<std::shared_ptr<Impl::Conn>> conns;
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    conns = impl_->conns;
  }
  for (auto& c : conns) c->socket.shutdown(tcp::socket::shutdown_both, ec);
  for (auto& c : conns)
    if (c->thread.joinable()) c->thread.join();
  std::lock_guard<std::mutex> lock(impl_->mu);
  impl_->conns.clear();
}

namespace {

// The client runs its operations asynchronously on a private io_context so that every step
// (resolve, connect, write, read) has a deadline: a blocking socket's SO_RCVTIMEO is not one,
// since Asio's synchronous reads poll again after EAGAIN.
class ClientCall {
 public:
  ClientCall(const std::string& host, uint16_t port, std::chrono::milliseconds timeout)
      : host_(host), port_(port), timeout_(timeout), stream_(io_) {}

  std::string where() const { return host_ + ":" + std::to_string(port_); }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  bool is_open() const { return stream_.socket().is_open(); }
  void close() {
    boost::system::error_code ec;
    stream_.socket().close(ec);
    buf_.clear();
  }

  // Runs the io_context until `done` is set; returns its error.
  boost::system::error_code wait(bool& done, boost::system::error_code& ec) {
    io_.restart();
    while (!done && io_.run_one() > 0) {
    }
    return ec;
  }

  Status connect() {
    boost::system::error_code ec;
    bool done = false;
    tcp::resolver resolver(io_);
    tcp::resolver::results_type results;
    // Resolution has no cancellable deadline in Asio 1.74's sync API; names here are IPs or
    // /etc/hosts entries in practice, and the async form keeps it under the same deadline.
    net::steady_timer t(io_);
    t.expires_after(timeout_);
    t.async_wait([&](boost::system::error_code e) {
      if (!e) resolver.cancel();
    });
    resolver.async_resolve(host_, std::to_string(port_),
                           [&](boost::system::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             results = std::move(r);
                             done = true;
                             t.cancel();
                           });
    wait(done, ec);
    if (ec) return unavailable("cannot resolve: " + ec.message(), host_);
    done = false;
    stream_.expires_after(timeout_);
    stream_.async_connect(results, [&](boost::system::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
    wait(done, ec);
    if (ec) return unavailable("cannot connect: " + ec.message(), where());
    return {};
  }

  Status send(const bhttp::request<bhttp::string_body>& req) {
    boost::system::error_code ec;
    bool done = false;
    stream_.expires_after(timeout_);
    bhttp::async_write(stream_, req, [&](boost::system::error_code e, size_t) {
      ec = e;
      done = true;
    });
    wait(done, ec);
    if (ec) return unavailable("cannot send: " + ec.message(), where());
    return {};
  }

  template <typename Parser>
  boost::system::error_code read(Parser& p, bool header_only, bool some) {
    boost::system::error_code ec;
    bool done = false;
    stream_.expires_after(timeout_);
    auto h = [&](boost::system::error_code e, size_t) {
      ec = e;
      done = true;
    };
    if (header_only)
      bhttp::async_read_header(stream_, buf_, p, h);
    else if (some)
      bhttp::async_read_some(stream_, buf_, p, h);
    else
      bhttp::async_read(stream_, buf_, p, h);
    wait(done, ec);
    return ec;
  }

 private:
  std::string host_;
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  net::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
};

bhttp::request<bhttp::string_body> make_request(const std::string& host, const std::string& method,
                                                const std::string& target, const std::string& body,
                                                const ClientOptions& o, bool keep_alive = false) {
  bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
  req.set(bhttp::field::host, host);
  req.set(bhttp::field::user_agent, "heteroscale");
  if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
  for (const auto& [k, v] : o.headers) req.set(k, v);
  req.body() = body;
  req.keep_alive(keep_alive);
  req.prepare_payload();
  return req;
}

ClientResponse to_response(bhttp::response_parser<bhttp::string_body>& p) {
  ClientResponse r;
  r.status = static_cast<int>(p.get().result_int());
  r.body = std::move(p.get().body());
  for (const auto& f : p.get())
    r.headers[to_lower(std::string(f.name_string()))] = std::string(f.value());
  return r;
}

}  // namespace

Result<ClientResponse> request(const std::string& host, uint16_t port, const std::string& method,
                               const std::string& target, const std::string& body,
                               const ClientOptions& o) {
  ClientCall call(host, port, o.timeout);
  HS_RETURN_IF_ERROR(call.connect());
  HS_RETURN_IF_ERROR(call.send(make_request(host, method, target, body, o)));
  bhttp::response_parser<bhttp::string_body> p;
  p.body_limit(size_t{256} << 20);
  if (auto ec = call.read(p, false, false))
    return unavailable("no response: " + ec.message(), call.where() + target);
  return to_response(p);
}

struct Connection::Impl {
  Impl(std::string h, uint16_t p) : host(std::move(h)), call(host, p, std::chrono::seconds(30)) {}
  std::string host;
  ClientCall call;
  uint64_t connects = 0;
};

Connection::Connection(std::string host, uint16_t port)
    : impl_(std::make_unique<Impl>(std::move(host), port)) {}
Connection::~Connection() = default;
Connection::Connection(Connection&&) noexcept = default;
Connection& Connection::operator=(Connection&&) noexcept = default;
uint64_t Connection::connects() const { return impl_->connects; }

Result<ClientResponse> Connection::request(const std::string& method, const std::string& target,
                                           const std::string& body, const ClientOptions& o) {
  ClientCall& call = impl_->call;
  call.set_timeout(o.timeout);
  auto req = make_request(impl_->host, method, target, body, o, /*keep_alive=*/true);
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool reused = call.is_open();
    if (!reused) {
      HS_RETURN_IF_ERROR(call.connect());
      ++impl_->connects;
    }
    Status sent = call.send(req);
    bhttp::response_parser<bhttp::string_body> p;
    p.body_limit(size_t{256} << 20);
    boost::system::error_code ec;
    if (sent.ok()) ec = call.read(p, false, false);
    if (sent.ok() && !ec) {
      if (!p.keep_alive()) call.close();
      return to_response(p);
    }
    call.close();
    // A reused socket the server had closed (its keep-alive timeout): once more, fresh.
    if (!reused || ec == beast::error::timeout)
      return sent.ok() ? Result<ClientResponse>(
                             unavailable("no response: " + ec.message(), call.where() + target))
                       : Result<ClientResponse>(sent.error());
  }
  return unavailable("no response", call.where() + target);
}

Result<ClientResponse> request_stream(const std::string& host, uint16_t port,
                                      const std::string& method, const std::string& target,
                                      const std::string& body,
                                      const std::function<bool(std::string_view)>& on_chunk,
                                      const ClientOptions& o) {
  ClientCall call(host, port, o.timeout);
  HS_RETURN_IF_ERROR(call.connect());
  HS_RETURN_IF_ERROR(call.send(make_request(host, method, target, body, o)));
  bhttp::response_parser<bhttp::buffer_body> p;
  p.body_limit(boost::none);
  if (auto ec = call.read(p, true, false))
    return unavailable("no response: " + ec.message(), call.where() + target);
  ClientResponse r;
  r.status = static_cast<int>(p.get().result_int());
  for (const auto& f : p.get())
    r.headers[to_lower(std::string(f.name_string()))] = std::string(f.value());
  char chunk[16384];
  while (!p.is_done()) {
    p.get().body().data = chunk;
    p.get().body().size = sizeof chunk;
    // read_some: hand over what has arrived; read() would wait to fill the buffer and
    // batch a stream's events together. The timeout is the longest silence allowed.
    auto ec = call.read(p, false, true);
    if (ec == bhttp::error::need_buffer) ec = {};
    if (ec) return unavailable("stream broken: " + ec.message(), call.where() + target);
    size_t n = sizeof chunk - p.get().body().size;
    if (n && !on_chunk(std::string_view(chunk, n))) break;
  }
  return r;
}

Result<Url> parse_url(std::string_view url) {
  if (!starts_with(url, "http://"))
    return invalid_argument("expected http://host:port/path, got " + quote(url));
  std::string_view rest = url.substr(7);
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  Url u;
  if (slash != std::string_view::npos) u.target = std::string(rest.substr(slash));
  size_t colon = hostport.rfind(':');
  u.host = std::string(hostport.substr(0, colon));
  if (colon != std::string_view::npos) {
    auto p = parse_u64(hostport.substr(colon + 1));
    if (!p.ok() || *p == 0 || *p > 65535) return invalid_argument("bad port in " + quote(url));
    u.port = static_cast<uint16_t>(*p);
  }
  if (u.host.empty()) return invalid_argument("no host in " + quote(url));
  return u;
}

}  // namespace hs::http
