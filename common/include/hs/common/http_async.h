// Coroutine handlers for hs::http::Server and an upstream client for them, for handlers that
// spend their time waiting on other servers (the router's completions): they run on the
// server's event-loop threads and hold no thread while they wait, so ten thousand streams cost
// ten thousand sockets pairs and coroutine frames, not ten thousand threads. A blocking call
// inside one stalls every connection of its loop thread: only the AsyncClient below, timers
// and short mutexes belong there. Boost.Asio 1.74's awaitable (Debian 12): no experimental
// operators; deadlines are timers that cancel the socket.
#pragma once

#include <utility>  // before Asio: its awaitable.hpp uses std::exchange

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "hs/common/http.h"

namespace hs::http {

template <typename T>
using Task = boost::asio::awaitable<T>;

// A streamed response's chunk writer: write() completes once the chunk is on the socket (a
// slow reader slows the writer; nothing queues a whole generation) and is false once the
// client has gone or the server is stopping.
class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  virtual Task<bool> write(std::string_view data) = 0;
};

struct AsyncResponse {
  Response head;  // status, content type, headers, and the body when not streamed
  // When set, the body is streamed (chunked) by this coroutine. A function that returns a
  // member coroutine called with copies, not a coroutine lambda: GCC 12 mishandles those.
  std::function<Task<void>(ChunkSink&)> stream;
};

// Requests for which `wants` is true go to `handler`, run on the connection's strand; the rest
// go to the synchronous handler on the pool. An exception from either is a 500.
struct AsyncRoute {
  std::function<bool(const Request&)> wants;
  std::function<Task<AsyncResponse>(Request)> handler;
};

// An upstream response whose body is read as it arrives (open()).
class AsyncStream {
 public:
  ~AsyncStream();  // keeps the connection for reuse when the body was read to its end
  AsyncStream(AsyncStream&&) noexcept;
  AsyncStream& operator=(AsyncStream&&) noexcept;
  int status() const;
  const std::map<std::string, std::string>& headers() const;  // lower-case names
  // The next piece of the body as it arrived; empty once the body has ended. Each wait is
  // bounded by the call's timeout (the longest silence allowed).
  Task<Result<std::string>> next();

  struct State;
  explicit AsyncStream(std::unique_ptr<State> s);

 private:
  std::unique_ptr<State> s_;
};

// Kept-alive connections to many peers for coroutines on the server's loop: a call takes an
// idle connection to its peer or opens one (a resolve only for names, not addresses) and gives
// it back when the answer was read whole on a connection the peer keeps open. A call on a
// reused connection that finds it closed before any answer is retried once on a fresh one.
// Deadlines: options.connect_timeout for resolve+connect, options.timeout for each later step.
// Failures read as the synchronous client's ("cannot connect: timed out after N ms", ...).
class AsyncClient {
 public:
  explicit AsyncClient(size_t max_idle_per_peer = 256);
  ~AsyncClient();
  Task<Result<ClientResponse>> request(Call call);
  // Returns once the response's headers have arrived; the body is read with next().
  Task<Result<AsyncStream>> open(Call call);
  // Closes the idle connections and keeps none from now on. Their sockets belong to the
  // event loop that opened them: call it after that loop's threads have stopped and before
  // it is destroyed (the server's stop(), then close(), then the server).
  void close();
  size_t idle() const;      // connections waiting, all peers
  uint64_t opened() const;  // sockets opened so far, all peers

  struct Pool;

 private:
  std::shared_ptr<Pool> pool_;  // shared with the streams it lent a connection to
};

}  // namespace hs::http
