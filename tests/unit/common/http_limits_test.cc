// The server's deadlines and limits against clients that misbehave, over real loopback
// sockets: each gets its clear answer (408, 413, 431, 400, 503) or a closed connection, and
// ordinary requests keep being served meanwhile. Every wait here is for a state (an answer,
// a closed socket, a counter), with a generous deadline.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../../../common/src/blocking_pool.h"  // internal: tested directly
#include "hs/common/http.h"
#include "test_server.h"

namespace hs::http {
namespace {

using namespace std::chrono_literals;

using test::serve;

Response ok(const Request&) { return Response{200, "text/plain", "ok", {}, {}}; }

// A raw client socket: connected, nothing sent yet. -1 when connect fails.
int dial(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads until the peer closes or `deadline` passes; returns what came.
std::string read_until_close(int fd, std::chrono::milliseconds deadline = 20s) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + deadline;
  char buf[4096];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string exchange(uint16_t port, const std::string& bytes) {
  int fd = dial(port);
  if (fd < 0) return "";
  (void)!write(fd, bytes.data(), bytes.size());
  std::string got = read_until_close(fd);
  close(fd);
  return got;
}

// As many descriptors as the hard limit allows: each idle connection costs two here.
size_t raise_fd_limit() {
  rlimit r{};
  getrlimit(RLIMIT_NOFILE, &r);
  r.rlim_cur = r.rlim_max;
  setrlimit(RLIMIT_NOFILE, &r);
  getrlimit(RLIMIT_NOFILE, &r);
  return static_cast<size_t>(r.rlim_cur);
}

TEST(HttpLimits, ThousandsOfHalfSentRequestsDoNotStarveAnOrdinaryOne) {
  size_t fds = raise_fd_limit();
  size_t n = std::min<size_t>(5000, fds > 400 ? (fds - 200) / 2 : 0);
  ASSERT_GE(n, 100u) << "RLIMIT_NOFILE " << fds << " leaves too few descriptors";
  ServerOptions o;
  o.max_connections = n + 100;
  o.threads = 2;
  auto s = serve(ok, o);
  std::vector<int> idle;
  for (size_t i = 0; i < n; ++i) {
    int fd = dial(s->port());
    ASSERT_GE(fd, 0) << "connection " << i;
    const char part[] = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Le";
    (void)!write(fd, part, sizeof part - 1);
    idle.push_back(fd);
  }
  // Every one of them is being held open by the server (none refused, none answered).
  for (int i = 0; i < 400 && s->open_connections() < n; ++i) std::this_thread::sleep_for(25ms);
  EXPECT_EQ(s->open_connections(), n);
  auto t0 = std::chrono::steady_clock::now();
  ClientOptions co;
  co.timeout = 5s;
  auto r = request("127.0.0.1", s->port(), "GET", "/health", "", co);
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r->status, 200);
  EXPECT_LT(took, 2.0) << "with " << n << " half-sent requests open";
  for (int fd : idle) close(fd);
}

TEST(HttpLimits, HeadersNotFinishedInTimeGet408) {
  ServerOptions o;
  o.header_timeout = 1s;
  auto s = serve(ok, o);
  int fd = dial(s->port());
  ASSERT_GE(fd, 0);
  const char part[] = "GET / HTTP/1.1\r\nHost: x\r\n";  // no blank line, ever
  (void)!write(fd, part, sizeof part - 1);
  std::string got = read_until_close(fd);
  close(fd);
  EXPECT_NE(got.find("HTTP/1.1 408"), std::string::npos) << got;
  EXPECT_NE(got.find("request headers not received within 1 s"), std::string::npos) << got;
  EXPECT_EQ(request("127.0.0.1", s->port(), "GET", "/")->status, 200);
}

TEST(HttpLimits, OversizedOrTooManyHeadersGet431) {
  ServerOptions o;
  o.max_header_bytes = 4096;
  o.max_header_fields = 20;
  auto s = serve(ok, o);
  std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(8000, 'a') + "\r\n\r\n";
  std::string got = exchange(s->port(), big);
  EXPECT_NE(got.find("HTTP/1.1 431"), std::string::npos) << got.substr(0, 200);
  EXPECT_NE(got.find("larger than 4096 bytes"), std::string::npos);
  std::string many = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 30; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  got = exchange(s->port(), many + "\r\n");
  EXPECT_NE(got.find("HTTP/1.1 431"), std::string::npos) << got.substr(0, 200);
  EXPECT_NE(got.find("more than 20 header fields"), std::string::npos);
  EXPECT_EQ(request("127.0.0.1", s->port(), "GET", "/")->status, 200);
}

TEST(HttpLimits, MalformedChunkedBodiesAndBadRequestLinesGet400) {
  std::atomic<int> handled{0};
  auto s = serve([&](const Request& r) {
    ++handled;
    return ok(r);
  });
  std::string got = exchange(s->port(),
                             "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "zz\r\nnot hex\r\n0\r\n\r\n");
  EXPECT_NE(got.find("HTTP/1.1 400"), std::string::npos) << got;
  got = exchange(s->port(), "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(got.find("HTTP/1.1 400"), std::string::npos) << got;
  EXPECT_EQ(handled.load(), 0);  // no handler saw either
  EXPECT_EQ(request("127.0.0.1", s->port(), "GET", "/")->status, 200);
}

TEST(HttpLimits, PastTheConnectionCapA503AndTheConnectionClosed) {
  ServerOptions o;
  o.max_connections = 3;
  auto s = serve(ok, o);
  std::vector<int> held;
  for (int i = 0; i < 3; ++i) held.push_back(dial(s->port()));
  for (int i = 0; i < 400 && s->open_connections() < 3; ++i) std::this_thread::sleep_for(25ms);
  ASSERT_EQ(s->open_connections(), 3u);
  std::string got = exchange(s->port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_NE(got.find("HTTP/1.1 503"), std::string::npos) << got;
  EXPECT_NE(got.find("limit of 3 connections"), std::string::npos) << got;
  for (int fd : held) close(fd);
  for (int i = 0; i < 400 && s->open_connections() > 0; ++i) std::this_thread::sleep_for(25ms);
  EXPECT_EQ(request("127.0.0.1", s->port(), "GET", "/")->status, 200);
}

// A client that stops reading a stream: the writer blocks (what it has written stays within
// the sockets' buffers, not a whole generation in memory) and is cut after read_timeout.
TEST(HttpLimits, AStreamToAClientThatStopsReadingIsHeldBackThenCut) {
  constexpr size_t kChunk = 16384, kChunks = 8192;  // 128 MiB offered
  std::atomic<size_t> accepted{0};
  std::atomic<bool> ended{false}, cut{false};
  ServerOptions o;
  o.read_timeout = 1s;
  auto s = serve(
      [&](const Request&) {
        Response x;
        x.content_type = "text/event-stream";
        x.stream = [&](const StreamWriter& w) {
          std::string chunk(kChunk, 'x');
          for (size_t i = 0; i < kChunks; ++i) {
            if (!w(chunk)) {
              cut = true;
              break;
            }
            accepted += kChunk;
          }
          ended = true;
        };
        return x;
      },
      o);
  int fd = dial(s->port());
  ASSERT_GE(fd, 0);
  const char req[] = "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n";
  (void)!write(fd, req, sizeof req - 1);
  for (int i = 0; i < 1200 && !ended; ++i) std::this_thread::sleep_for(25ms);  // up to 30 s
  EXPECT_TRUE(ended.load());
  EXPECT_TRUE(cut.load());
  EXPECT_LT(accepted.load(), size_t{64} << 20) << "the writer did not wait for the reader";
  close(fd);
  EXPECT_EQ(request("127.0.0.1", s->port(), "GET", "/")->status, 200);
}

// Handlers run side by side however they arrive: two requests whose handlers each wait for
// the other both complete, also when a single pool thread sat idle as they came in (a pool
// that woke only that one thread left the second request queued behind the first).
TEST(HttpLimits, HandlersThatWaitForEachOtherBothRun) {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  auto s = serve([&](const Request& r) {
    if (r.path() == "/warm") return ok(r);
    std::unique_lock<std::mutex> lock(mu);
    ++arrived;
    cv.notify_all();
    bool both = cv.wait_for(lock, 10s, [&] { return arrived >= 2; });
    return Response{both ? 200 : 504, "text/plain", "", {}, {}};
  });
  for (int round = 0; round < 20; ++round) {
    ASSERT_EQ(request("127.0.0.1", s->port(), "GET", "/warm")->status, 200);  // one idle thread
    {
      std::lock_guard<std::mutex> lock(mu);
      arrived = 0;
    }
    int a = 0, b = 0;
    std::thread ta([&] { a = request("127.0.0.1", s->port(), "GET", "/pair")->status; });
    std::thread tb([&] { b = request("127.0.0.1", s->port(), "GET", "/pair")->status; });
    ta.join();
    tb.join();
    ASSERT_EQ(a, 200) << "round " << round;
    ASSERT_EQ(b, 200) << "round " << round;
  }
}

// The same at the pool itself, where the moment is certain: one thread idle, two tasks
// posted back to back, each waiting for the other.
TEST(BlockingPool, TwoTasksPostedToOneIdleThreadRunSideBySide) {
  BlockingPool pool(16);
  std::atomic<bool> warm{false};
  pool.post(std::packaged_task<void()>([&] { warm = true; }));
  for (int i = 0; i < 2000 && !(warm && pool.idle() == 1); ++i) std::this_thread::sleep_for(5ms);
  ASSERT_EQ(pool.idle(), 1u);
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  std::atomic<int> met{0};
  auto task = [&] {
    std::unique_lock<std::mutex> lock(mu);
    ++arrived;
    cv.notify_all();
    if (cv.wait_for(lock, 10s, [&] { return arrived >= 2; })) ++met;
  };
  pool.post(std::packaged_task<void()>(task));
  pool.post(std::packaged_task<void()>(task));
  pool.join();
  EXPECT_EQ(met.load(), 2);
}

TEST(HttpLimits, AnExpect100ContinueClientIsToldToSendItsBody) {
  auto s = serve([](const Request& r) { return Response{200, "text/plain", r.body, {}, {}}; });
  int fd = dial(s->port());
  ASSERT_GE(fd, 0);
  std::string head =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n"
      "Connection: close\r\n\r\n";
  (void)!write(fd, head.data(), head.size());
  std::string got;
  char buf[512];
  for (int i = 0; i < 200 && got.find("100 Continue") == std::string::npos; ++i) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) > 0) {
      ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
  }
  ASSERT_NE(got.find("HTTP/1.1 100 Continue"), std::string::npos) << got;
  (void)!write(fd, "hello", 5);
  got += read_until_close(fd);
  close(fd);
  EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_NE(got.find("hello"), std::string::npos) << got;
}

}  // namespace
}  // namespace hs::http
