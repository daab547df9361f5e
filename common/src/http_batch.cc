// hs::http::request_all: many requests from one thread at once, a coroutine each on one private
// event loop. Each call has one deadline for all of its steps, so a peer that drops SYNs or
// accepts and never answers costs its own timeout and delays no other call.
// GCC 12 misreads Asio 1.74's coroutine frame allocator (::operator new of raw chunks, freed
// by the frame's sized operator delete through the same recycling allocator) as a mismatch
// once run_call is inlined into request_all; the pairing is Asio's own and correct.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#include <utility>  // before Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <exception>

#include "hs/common/http.h"
#include "http_message.h"

namespace hs::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;

using detail::kTimedOut;
using detail::step_error;

net::awaitable<void> run_call(const Call& c, Result<ClientResponse>& out) {
  auto ex = co_await net::this_coro::executor;
  const std::string where = c.host + ":" + std::to_string(c.port);
  const auto total = c.options.timeout;
  const auto deadline = Clock::now() + total;
  auto connect_limit =
      c.options.connect_timeout.count() > 0 ? std::min(c.options.connect_timeout, total) : total;
  boost::system::error_code ec;

  tcp::resolver resolver(ex);
  net::steady_timer guard(ex);
  guard.expires_at(Clock::now() + connect_limit);
  // Resolution has no deadline of its own: the guard cancels one still queued (a name already
  // inside getaddrinfo() returns in its own time; Asio 1.74 cannot interrupt it). Endpoints
  // are addresses or /etc/hosts names in practice.
  auto cancel_resolve = [&resolver](const boost::system::error_code& e) {
    if (!e) resolver.cancel();
  };
  guard.async_wait(cancel_resolve);
  auto results = co_await resolver.async_resolve(c.host, std::to_string(c.port),
                                                 net::redirect_error(net::use_awaitable, ec));
  guard.cancel();
  if (ec) {
    out = step_error("cannot resolve", ec, connect_limit, c.host);
    co_return;
  }

  beast::tcp_stream stream(ex);
  stream.expires_at(std::min(deadline, Clock::now() + connect_limit));
  co_await stream.async_connect(results, net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    out = step_error("cannot connect", ec, connect_limit, where);
    co_return;
  }
  stream.expires_at(deadline);
  auto req = detail::make_request(c.host, c.method, c.target, c.body, c.options);
  co_await bhttp::async_write(stream, req, net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    out = step_error("cannot send", ec, total, where);
    co_return;
  }
  beast::flat_buffer buf;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(size_t{256} << 20);
  co_await bhttp::async_read(stream, buf, parser, net::redirect_error(net::use_awaitable, ec));
  if (ec) {
    out = step_error("no response", ec, total, where + c.target);
    co_return;
  }
  out = detail::to_response(parser);
}

}  // namespace

bool timed_out(const Error& e) { return e.message.find(kTimedOut) != std::string::npos; }

bool local_failure(const Error& e) {
  // strerror() of EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS and ENOMEM, as error_code says them.
  for (std::string_view s : {"Too many open files", "Cannot assign requested address",
                             "No buffer space available", "Cannot allocate memory"})
    if (e.message.find(s) != std::string::npos) return true;
  return false;
}

std::vector<Result<ClientResponse>> request_all(const std::vector<Call>& calls) {
  std::vector<Result<ClientResponse>> out(calls.size(),
                                          Result<ClientResponse>(unavailable("not run")));
  net::io_context io(1);
  for (size_t i = 0; i < calls.size(); ++i) {
    Result<ClientResponse>& slot = out[i];
    auto done = [&slot](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        slot = unavailable(std::string("request failed: ") + x.what());
      }
    };
    net::co_spawn(io, run_call(calls[i], slot), done);
  }
  io.run();
  return out;
}

}  // namespace hs::http
