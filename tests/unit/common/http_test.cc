// The HTTP server and client over real loopback sockets.
#include "hs/common/http.h"
#include "test_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <system_error>
#include <thread>

namespace hs::http {
namespace {

using test::serve;

// Sends raw bytes, returns what comes back (until close).
std::string raw(uint16_t port, const std::string& bytes) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "";
  (void)!write(fd, bytes.data(), bytes.size());
  shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

TEST(Http, RequestsAndErrors) {
  auto s = serve([](const Request& r) {
    if (r.path() == "/echo") {
      Response x;
      x.body = r.method + " " + r.target + " " + r.body + " " + r.headers.at("x-test");
      x.content_type = "text/plain";
      return x;
    }
    if (r.path() == "/boom") throw std::runtime_error("kaput");
    return error_response(404, "no route " + r.path(), "not_found");
  });
  ClientOptions o;
  o.headers = {{"X-Test", "yes"}};
  auto r = request("127.0.0.1", s->port(), "POST", "/echo?a=1", "{\"k\":1}", o);
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "POST /echo?a=1 {\"k\":1} yes");
  auto nf = request("127.0.0.1", s->port(), "GET", "/nope");
  ASSERT_TRUE(nf.ok());
  EXPECT_EQ(nf->status, 404);
  EXPECT_NE(nf->body.find("\"message\": \"no route /nope\""), std::string::npos) << nf->body;
  auto boom = request("127.0.0.1", s->port(), "GET", "/boom");
  ASSERT_TRUE(boom.ok());
  EXPECT_EQ(boom->status, 500);
  EXPECT_NE(boom->body.find("kaput"), std::string::npos);
  // Malformed HTTP gets a 400 and the server keeps serving.
  std::string bad = raw(s->port(), "NOT HTTP AT ALL\r\n\r\n");
  EXPECT_NE(bad.find("400"), std::string::npos) << bad;
  EXPECT_EQ(request("127.0.0.1", s->port(), "GET", "/echo", "", o)->status, 200);
  // Keep-alive: two requests on one connection.
  std::string two = raw(s->port(),
                        "GET /echo HTTP/1.1\r\nHost: x\r\nX-Test: 1\r\n\r\nGET /echo "
                        "HTTP/1.1\r\nHost: x\r\nX-Test: 2\r\nConnection: close\r\n\r\n");
  EXPECT_NE(two.find("GET /echo  1"), std::string::npos) << two;
  EXPECT_NE(two.find("GET /echo  2"), std::string::npos) << two;
}

TEST(Http, BodyLimit) {
  ServerOptions so;
  so.max_body_bytes = 1000;
  auto s = serve([](const Request&) { return Response{}; }, so);
  auto r = request("127.0.0.1", s->port(), "POST", "/", std::string(5000, 'x'));
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 413);
}

TEST(Http, StreamsServerSentEvents) {
  auto s = serve([](const Request&) {
    Response x;
    x.content_type = "text/event-stream";
    x.stream = [](const StreamWriter& w) {
      for (int i = 0; i < 5; ++i) w("data: " + std::to_string(i) + "\n\n");
      w("data: [DONE]\n\n");
    };
    return x;
  });
  std::string got;
  int chunks = 0;
  auto r = request_stream("127.0.0.1", s->port(), "POST", "/v1/completions", "{}",
                          [&](std::string_view c) {
                            got += c;
                            ++chunks;
                            return true;
                          });
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.at("content-type"), "text/event-stream");
  EXPECT_EQ(got, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: [DONE]\n\n");
  EXPECT_GE(chunks, 1);
}

TEST(Http, ConcurrentClientsAndStopDuringAStream) {
  std::atomic<int> served{0};
  auto s = serve([&](const Request& r) {
    if (r.path() == "/slow") {
      Response x;
      x.stream = [](const StreamWriter& w) {
        for (int i = 0; i < 200; ++i) {
          if (!w("tick\n")) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      };
      return x;
    }
    ++served;
    return Response{};
  });
  std::vector<std::thread> ts;
  for (int i = 0; i < 16; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 10; ++k)
        EXPECT_EQ(request("127.0.0.1", s->port(), "GET", "/")->status, 200);
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(served.load(), 160);
  std::thread streamer([&] {
    (void)request_stream("127.0.0.1", s->port(), "GET", "/slow", "",
                         [](std::string_view) { return true; });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  auto t0 = std::chrono::steady_clock::now();
  s->stop();  // must not wait for the 4 s stream to finish
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  streamer.join();
  EXPECT_FALSE(request("127.0.0.1", s->port(), "GET", "/").ok());
}

TEST(Http, AConnectionIsKeptAliveAndReopenedWhenTheServerWentAway) {
  std::atomic<int> n{0};
  auto h = [&](const Request&) { return Response{200, "text/plain", std::to_string(++n), {}, {}}; };
  auto s = serve(h);
  Connection c("127.0.0.1", s->port());
  for (int i = 1; i <= 3; ++i) {
    auto r = c.request("GET", "/metrics");
    ASSERT_TRUE(r.ok()) << r.error().to_string();
    EXPECT_EQ(r->body, std::to_string(i));
  }
  EXPECT_EQ(c.connects(), 1u);
  EXPECT_EQ(s->open_connections(), 1u);
  // The server restarts on the same port: the stale socket is replaced, once.
  uint16_t port = s->port();
  s->stop();
  ServerOptions o;
  o.port = port;
  auto s2 = serve(h, o);
  auto r = c.request("GET", "/metrics");
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(c.connects(), 2u);
  s2->stop();
  ClientOptions quick;
  quick.timeout = std::chrono::milliseconds(500);
  EXPECT_EQ(c.request("GET", "/metrics", "", quick).error().code, ErrorCode::kUnavailable);
}

// drain(): a stream in flight finishes when it can within the bound, is cut (and counted)
// when it cannot, and no new connection is taken meanwhile.
TEST(Http, DrainLetsAStreamFinishAndCountsWhatItCuts) {
  for (bool finishes : {true, false}) {
    std::atomic<bool> started{false}, release{false};
    auto s = serve([&](const Request& r) {
      Response x;
      if (r.path() == "/x") return x;  // the probe for a closed listener
      x.stream = [&](const StreamWriter& w) {
        started = true;
        w("first\n");
        while (!release) {  // waits for the test, or for the server to give up on it
          if (!w("")) return;
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          if (!w("tick\n")) return;
        }
        w("last\n");
      };
      return x;
    });
    std::string got;
    std::thread client([&] {
      (void)request_stream("127.0.0.1", s->port(), "GET", "/", "", [&](std::string_view c) {
        got += c;
        return true;
      });
    });
    for (int i = 0; i < 2000 && !started; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ASSERT_TRUE(started.load());
    size_t cut = 0;
    std::thread drainer([&] { cut = s->drain(std::chrono::milliseconds(finishes ? 20000 : 300)); });
    // Wait until the listener is closed (a refused connect), then let the stream end.
    bool refused = false;
    for (int i = 0; i < 2000 && !refused; ++i) {
      ClientOptions quick;
      quick.timeout = std::chrono::milliseconds(200);
      refused = !request("127.0.0.1", s->port(), "GET", "/x", "", quick).ok();
      if (!refused) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    EXPECT_TRUE(refused);
    if (finishes) release = true;
    drainer.join();
    client.join();
    release = true;
    EXPECT_EQ(cut, finishes ? 0u : 1u);
    EXPECT_EQ(got.find("last") != std::string::npos, finishes) << got.substr(0, 80);
  }
}

TEST(Http, UrlsAndUnreachablePeers) {
  auto u = parse_url("http://127.0.0.1:8000/v1/models");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 8000);
  EXPECT_EQ(u->target, "/v1/models");
  EXPECT_EQ(parse_url("http://h")->port, 80);
  for (const char* bad : {"https://h/", "h:80", "http://:80/", "http://h:0/", "http://h:99999/"})
    EXPECT_FALSE(parse_url(bad).ok()) << bad;
  auto r = request("127.0.0.1", 1, "GET", "/");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
}

TEST(Http, OwnResourceFailuresAreToldFromThePeers) {
  // The words are strerror()'s, which Asio's error_code messages are.
  for (int e : {EMFILE, ENFILE, EADDRNOTAVAIL, ENOBUFS})
    EXPECT_TRUE(local_failure(
        unavailable("cannot connect: " + std::error_code(e, std::generic_category()).message())))
        << e;
  for (int e : {ECONNREFUSED, ECONNRESET, EHOSTUNREACH})
    EXPECT_FALSE(local_failure(
        unavailable("cannot connect: " + std::error_code(e, std::generic_category()).message())))
        << e;
  EXPECT_FALSE(local_failure(unavailable("cannot connect: timed out after 500 ms")));
}

}  // namespace
}  // namespace hs::http
