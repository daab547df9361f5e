// hs::http's client side and helpers (the server: http_server.cc).
#include "hs/common/http.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdint>
#include <optional>

#include "hs/common/text.h"
#include "http_message.h"

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

using detail::make_request;
using detail::to_response;

// The client runs its operations asynchronously on a private io_context so that every step
// (resolve, connect, write, read) has a deadline: a blocking socket's SO_RCVTIMEO is not one,
// since Asio's synchronous reads poll again after EAGAIN.
class ClientCall {
 public:
  ClientCall(const std::string& host, uint16_t port, std::chrono::milliseconds timeout)
      : host_(host), port_(port), timeout_(timeout), stream_(io_) {}

  std::string where() const { return host_ + ":" + std::to_string(port_); }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  void set_connect_timeout(std::chrono::milliseconds t) { connect_timeout_ = t; }
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
    auto limit = connect_timeout_.count() > 0 ? std::min(connect_timeout_, timeout_) : timeout_;
    auto deadline = std::chrono::steady_clock::now() + limit;
    boost::system::error_code ec;
    bool done = false;
    tcp::resolver resolver(io_);
    tcp::resolver::results_type results;
    // Resolution has no cancellable deadline in Asio 1.74's sync API; names here are IPs or
    // /etc/hosts entries in practice, and the async form keeps it under the same deadline.
    net::steady_timer t(io_);
    t.expires_at(deadline);
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
    stream_.expires_at(deadline);
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
  std::chrono::milliseconds connect_timeout_{0};
  net::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buf_;
};

}  // namespace

Result<ClientResponse> request(const std::string& host, uint16_t port, const std::string& method,
                               const std::string& target, const std::string& body,
                               const ClientOptions& o) {
  ClientCall call(host, port, o.timeout);
  call.set_connect_timeout(o.connect_timeout);
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
bool Connection::open() const { return impl_ && impl_->call.is_open(); }

Result<ClientResponse> ConnectionPool::request(const std::string& host, uint16_t port,
                                               const std::string& method, const std::string& target,
                                               const std::string& body, const ClientOptions& o) {
  std::string key = host + ":" + std::to_string(port);
  std::optional<Connection> c;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = idle_.find(key);
    if (it != idle_.end() && !it->second.empty()) {
      c.emplace(std::move(it->second.back()));
      it->second.pop_back();
    }
  }
  if (!c) c.emplace(host, port);
  uint64_t before = c->connects();
  auto r = c->request(method, target, body, o);
  std::lock_guard<std::mutex> lock(mu_);
  opened_ += c->connects() - before;
  if (c->open()) {
    auto& list = idle_[key];
    if (list.size() < max_idle_) list.push_back(std::move(*c));
  }
  return r;
}

size_t ConnectionPool::idle() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [k, v] : idle_) n += v.size();
  return n;
}

uint64_t ConnectionPool::opened() const {
  std::lock_guard<std::mutex> lock(mu_);
  return opened_;
}

Result<ClientResponse> Connection::request(const std::string& method, const std::string& target,
                                           const std::string& body, const ClientOptions& o) {
  ClientCall& call = impl_->call;
  call.set_timeout(o.timeout);
  call.set_connect_timeout(o.connect_timeout);
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
  call.set_connect_timeout(o.connect_timeout);
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
