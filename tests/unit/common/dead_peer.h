// Dead peers on loopback only, for tests: a listener with backlog 0 whose accept queue
// already holds one unaccepted connection (Linux then drops further SYNs, so connect() hangs
// as it does against a dead node), and a listener that never accepts (the kernel completes
// the handshake, nobody ever answers: a hung or SIGSTOPped process). Nothing leaves 127.0.0.1.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <utility>

namespace hs::test {

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

struct DeadPeer {
  Fd listener;
  Fd filler;  // the one connection that fills a backlog-0 accept queue
  uint16_t port = 0;
};

inline sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

// backlog 0 + a filler: drops SYNs. Any larger backlog and no filler: accepts, never answers.
inline DeadPeer listen_dead(bool drop_syns) {
  DeadPeer p;
  p.listener = Fd(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a = loopback(0);
  EXPECT_EQ(bind(p.listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(listen(p.listener.get(), drop_syns ? 0 : 64), 0);
  socklen_t len = sizeof a;
  getsockname(p.listener.get(), reinterpret_cast<sockaddr*>(&a), &len);
  p.port = ntohs(a.sin_port);
  if (drop_syns) {
    p.filler = Fd(socket(AF_INET, SOCK_STREAM, 0));
    sockaddr_in to = loopback(p.port);
    EXPECT_EQ(connect(p.filler.get(), reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  }
  return p;
}

}  // namespace hs::test
