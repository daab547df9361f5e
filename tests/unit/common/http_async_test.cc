// Coroutine handlers and AsyncClient over real loopback sockets: a proxy server whose async
// route calls an upstream server, as the router does.
#include "hs/common/http_async.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "hs/common/http.h"
#include "test_server.h"

namespace hs::http {
namespace {

using test::serve;

Response upstream_answer(const Request& r) {
  if (r.path() == "/stream") {
    Response x;
    x.content_type = "text/event-stream";
    x.stream = [](const StreamWriter& w) {
      for (int i = 0; i < 5; ++i)
        if (!w("data: " + std::to_string(i) + "\n\n")) return;
    };
    return x;
  }
  Response x;
  x.body = r.method + " " + r.target + " " + r.body;
  return x;
}

// The async side: member coroutines called with copies (no coroutine lambdas).
struct Proxy {
  uint16_t upstream = 0;
  std::chrono::milliseconds connect_timeout{0};
  AsyncClient client;
  std::unique_ptr<Server> server;  // after the client: its loop holds the client's sockets

  ~Proxy() {  // the order AsyncClient::close() asks for
    if (server) server->stop();
    client.close();
  }

  Call call(const Request& r, const std::string& target) const {
    Call c{"127.0.0.1", upstream, r.method, target, r.body, {}};
    c.options.timeout = std::chrono::milliseconds(5000);
    c.options.connect_timeout = connect_timeout;
    return c;
  }
  Task<AsyncResponse> handle(Request r) {
    AsyncResponse out;
    if (r.path() == "/relay") {
      out.head.content_type = "text/event-stream";
      out.stream = [this, c = call(r, "/stream")](ChunkSink& s) { return relay(c, &s); };
      co_return out;
    }
    auto a = co_await client.request(call(r, "/echo"));
    if (!a.ok()) {
      out.head = error_response(502, a.error().to_string(), "bad_gateway");
      out.head.headers.emplace_back("x-timed-out", timed_out(a.error()) ? "yes" : "no");
      co_return out;
    }
    out.head.body = a->body;
    co_return out;
  }
  Task<void> relay(Call c, ChunkSink* sink) {
    auto st = co_await client.open(c);
    if (!st.ok()) co_return;
    for (;;) {
      auto piece = co_await st->next();
      if (!piece.ok() || piece->empty()) break;
      if (!co_await sink->write("<" + *piece + ">")) break;
    }
  }
};

Server* proxy_server(Proxy& p, size_t threads = 2) {
  ServerOptions o;
  o.threads = threads;
  AsyncRoute route{[](const Request& r) { return r.path() != "/sync"; },
                   [&p](Request r) { return p.handle(std::move(r)); }};
  auto s = Server::start(
      o,
      [](const Request&) {
        return Response{200, "text/plain", "sync", {}, nullptr};
      },
      std::move(route));
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  p.server = std::move(*s);
  return p.server.get();
}

TEST(HttpAsync, ProxiesOverOneKeptAliveConnectionAndKeepsSyncRoutes) {
  auto up = serve(upstream_answer);
  Proxy p;
  p.upstream = up->port();
  auto px = proxy_server(p);
  for (int i = 0; i < 10; ++i) {
    auto r = request("127.0.0.1", px->port(), "POST", "/x", "{\"i\":" + std::to_string(i) + "}");
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "POST /echo {\"i\":" + std::to_string(i) + "}");
  }
  EXPECT_EQ(p.client.opened(), 1u);  // one after another: the same upstream connection
  EXPECT_EQ(p.client.idle(), 1u);
  auto s = request("127.0.0.1", px->port(), "GET", "/sync");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->body, "sync");
}

TEST(HttpAsync, RelaysAStreamChunkByChunk) {
  auto up = serve(upstream_answer);
  Proxy p;
  p.upstream = up->port();
  auto px = proxy_server(p);
  std::string got;
  auto r = request_stream("127.0.0.1", px->port(), "GET", "/relay", "", [&](std::string_view c) {
    got.append(c);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  std::string want;
  for (int i = 0; i < 5; ++i) want += "data: " + std::to_string(i) + "\n\n";
  std::string unwrapped;
  for (char c : got)
    if (c != '<' && c != '>') unwrapped += c;
  EXPECT_EQ(unwrapped, want);
  EXPECT_NE(got.find('<'), std::string::npos);  // it went through the relay
}

TEST(HttpAsync, ManyRequestsInFlightOnTwoLoopThreads) {
  // The upstream holds every request until all have arrived: the proxy can only pass this if
  // its 2 loop threads hold all 200 requests waiting at once.
  constexpr int kN = 200;
  std::atomic<int> arrived{0};
  ServerOptions uo;
  uo.max_connections = 1000;
  auto up = serve(
      [&](const Request& r) {
        ++arrived;
        for (int i = 0; i < 60000 && arrived < kN; ++i)
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return upstream_answer(r);
      },
      uo);
  Proxy p;
  p.upstream = up->port();
  auto px = proxy_server(p, 2);
  std::vector<std::thread> ts;
  std::atomic<int> ok{0};
  for (int i = 0; i < kN; ++i)
    ts.emplace_back([&] {
      ClientOptions o;
      o.timeout = std::chrono::milliseconds(120000);
      auto r = request("127.0.0.1", px->port(), "POST", "/x", "{}", o);
      if (r.ok() && r->status == 200) ++ok;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(arrived.load(), kN);
  EXPECT_EQ(ok.load(), kN);
}

TEST(HttpAsync, AStaleIdleConnectionIsRetriedOnAFreshOne) {
  auto up = serve(upstream_answer);
  const uint16_t port = up->port();
  Proxy p;
  p.upstream = port;
  auto px = proxy_server(p);
  ASSERT_TRUE(request("127.0.0.1", px->port(), "POST", "/x", "1").ok());
  ASSERT_EQ(p.client.idle(), 1u);
  up->stop();  // closes the pooled connection from the far side
  ServerOptions o;
  o.port = port;
  auto again = Server::start(o, upstream_answer);
  ASSERT_TRUE(again.ok()) << again.error().to_string();
  auto r = request("127.0.0.1", px->port(), "POST", "/x", "2");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /echo 2");
  EXPECT_EQ(p.client.opened(), 2u);
}

TEST(HttpAsync, ARefusedPeerFailsAtOnceNamingIt) {
  uint16_t port;
  {
    auto up = serve(upstream_answer);
    port = up->port();
  }  // nothing listens there now
  Proxy p;
  p.upstream = port;
  auto px = proxy_server(p);
  auto r = request("127.0.0.1", px->port(), "POST", "/x", "{}");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 502);
  EXPECT_NE(r->body.find("cannot connect"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("127.0.0.1:" + std::to_string(port)), std::string::npos) << r->body;
}

}  // namespace
}  // namespace hs::http
