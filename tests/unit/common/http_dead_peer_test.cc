// Dead peers against request_all, request() and ConnectionPool (dead_peer.h: on loopback only).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "dead_peer.h"
#include "hs/common/http.h"

namespace hs::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using test::DeadPeer;
using test::listen_dead;

TEST(RequestAll, DeadPeersCostOneTimeoutNotOneEach) {
  auto live = Server::start({}, [](const Request&) {
    return Response{200, "text/plain", "up", {}, {}};
  });
  ASSERT_TRUE(live.ok());
  std::vector<DeadPeer> dead;
  std::vector<Call> calls;
  ClientOptions o;
  o.timeout = 400ms;
  calls.push_back(Call{"127.0.0.1", (*live)->port(), "GET", "/health", "", o});
  const int kEach = 16;
  for (int i = 0; i < 2 * kEach; ++i) {
    dead.push_back(listen_dead(/*drop_syns=*/i < kEach));
    calls.push_back(Call{"127.0.0.1", dead.back().port, "GET", "/health", "", o});
  }
  auto t0 = Clock::now();
  auto r = request_all(calls);
  auto took = Clock::now() - t0;
  ASSERT_EQ(r.size(), calls.size());
  ASSERT_TRUE(r[0].ok()) << r[0].error().to_string();
  EXPECT_EQ(r[0]->status, 200);
  EXPECT_EQ(r[0]->body, "up");
  for (int i = 1; i <= kEach; ++i) {
    ASSERT_FALSE(r[i].ok());
    EXPECT_NE(r[i].error().to_string().find("cannot connect: timed out after 400 ms"),
              std::string::npos)
        << r[i].error().to_string();
    EXPECT_NE(r[i].error().to_string().find(std::to_string(dead[i - 1].port)), std::string::npos);
  }
  for (int i = kEach + 1; i <= 2 * kEach; ++i) {
    ASSERT_FALSE(r[i].ok());
    EXPECT_NE(r[i].error().to_string().find("no response: timed out"), std::string::npos)
        << r[i].error().to_string();
  }
  // One after another, 32 dead peers would cost 12.8 s; at once, about one timeout. The bound
  // is half the serial cost, far above one timeout, so a loaded machine still passes.
  EXPECT_LT(took, 2 * kEach * 400ms / 2);
}

TEST(RequestAll, AnEmptyBatchRunsNothing) { EXPECT_TRUE(request_all({}).empty()); }

TEST(Request, ConnectTimeoutBoundsAPeerThatDropsSyns) {
  DeadPeer p = listen_dead(/*drop_syns=*/true);
  ClientOptions o;
  o.timeout = 120s;  // a generation's timeout: the connect must not wait for it
  o.connect_timeout = 300ms;
  auto t0 = Clock::now();
  auto r = request("127.0.0.1", p.port, "GET", "/health", "", o);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().to_string().find("cannot connect"), std::string::npos);
  EXPECT_LT(Clock::now() - t0, 60s);
  ConnectionPool pool;
  t0 = Clock::now();
  auto pr = pool.request("127.0.0.1", p.port, "GET", "/health", "", o);
  ASSERT_FALSE(pr.ok());
  EXPECT_LT(Clock::now() - t0, 60s);
}

}  // namespace
}  // namespace hs::http
