// A small HTTP/1.1 server and client for heteroscale's processes (engine simulator, router,
// load generator, daemon), on Boost.Beast and Asio (header-only, Debian's libboost-dev).
// The server reads and writes every connection on a fixed set of event-loop threads, so idle
// and half-sent connections cost no thread; handlers are synchronous and run on a pool beside
// the loop (a thread per request in flight, up to max_connections), or are coroutines on the
// loop itself (http_async.h) when they mostly wait on upstreams. Keep-alive, deadlines for
// every phase of a request, limits with a clear answer each, and chunked streaming for
// server-sent events with backpressure (a writer waits while its client is slow to read).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "hs/common/error.h"

namespace hs::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // "/v1/completions?x=1"
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string peer;                            // "127.0.0.1:54321"
  std::string path() const;                    // target without the query
};

// Writes one chunk of a streaming response; false once the client has gone.
using StreamWriter = std::function<bool(std::string_view)>;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is streamed (chunked): the function writes chunks until it returns.
  std::function<void(const StreamWriter&)> stream;
};

// A JSON error body {"error": {"message", "type", "code"}} as OpenAI-compatible servers send.
Response error_response(int status, std::string_view message,
                        std::string_view type = "invalid_request_error");

using Handler = std::function<Response(const Request&)>;
struct AsyncRoute;  // coroutine handlers: http_async.h

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                           // 0: an ephemeral port (see Server::port())
  size_t max_body_bytes = size_t{16} << 20;    // past it: 413
  size_t max_header_bytes = size_t{64} << 10;  // past it: 431
  size_t max_header_fields = 100;              // past it: 431
  // A request's headers must arrive within header_timeout of its first byte (else 408: a
  // slowloris client holds no more than that); read_timeout bounds the wait for the next
  // request on a kept-alive connection (then it is closed), for a body, and for each write.
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds read_timeout{60};
  // Connections open at once; the next gets a 503 and is closed. Also the cap on handlers in
  // flight (each holds a pool thread while it runs). 0: half the process's open-file limit at
  // start, less a reserve of 64, so that each connection can have an upstream socket too
  // (raise_fd_limit() first: fd_limit.h).
  size_t max_connections = 0;
  size_t threads = 0;  // event-loop threads; 0: one per core (at least 2)
  // The port is bound and listening at start, but connections are accepted only after this
  // delay (they wait in the kernel's backlog meanwhile), as a server that binds before it has
  // loaded what it serves does.
  std::chrono::milliseconds accept_delay{0};
};

class Server {
 public:
  // Binds and starts accepting; errors (Unavailable) name the address.
  static Result<std::unique_ptr<Server>> start(const ServerOptions& options, Handler handler);
  // With coroutine handlers for the requests `async` wants (http_async.h).
  static Result<std::unique_ptr<Server>> start(const ServerOptions& options, Handler handler,
                                               AsyncRoute async);
  ~Server();
  uint16_t port() const;
  // Stops accepting, closes every connection, waits for running handlers (a stream's writer
  // returns false from now on) and joins every thread. Idempotent.
  void stop();
  // A graceful stop: accepts no more connections, closes idle kept-alive ones, lets the
  // requests in flight (streams included) finish for up to `bound`, then stop(). Returns how
  // many were still running at the bound and were cut.
  size_t drain(std::chrono::milliseconds bound);
  size_t open_connections() const;

  struct Impl;
  // For start(): Impl is opaque outside the library, so nothing else can call this.
  explicit Server(std::unique_ptr<Impl> impl);

 private:
  std::unique_ptr<Impl> impl_;
};

struct ClientResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
};

struct ClientOptions {
  // Bounds each step (resolve, connect, send, each read) of request(), request_stream() and
  // Connection; for request_all() it is the whole call's deadline.
  std::chrono::milliseconds timeout{30000};
  std::vector<std::pair<std::string, std::string>> headers;
  // Bounds resolve + connect alone when shorter than `timeout`: a node that drops SYNs costs
  // this, not a generation's timeout (0: `timeout`). Envoy's default is 5 s.
  std::chrono::milliseconds connect_timeout{0};
};

// One request on a fresh connection. Unavailable when the peer cannot be reached or times out.
Result<ClientResponse> request(const std::string& host, uint16_t port, const std::string& method,
                               const std::string& target, const std::string& body = {},
                               const ClientOptions& options = {});

// Streams a response body: `on_chunk` gets each piece as it arrives (return false to stop).
// Returns the status and headers (body empty).
Result<ClientResponse> request_stream(const std::string& host, uint16_t port,
                                      const std::string& method, const std::string& target,
                                      const std::string& body,
                                      const std::function<bool(std::string_view)>& on_chunk,
                                      const ClientOptions& options = {});

// Many requests at once from the calling thread, on one event loop (no thread per call): each
// under its own options.timeout as a deadline for the whole call, so N dead peers cost one
// timeout, not N. Results in the order of `calls`; a failure names the step that failed
// (resolve, connect, send, response) and the peer. For health probes and scrapes.
struct Call {
  std::string host;
  uint16_t port = 0;
  std::string method = "GET";
  std::string target = "/";
  std::string body;
  ClientOptions options;
};
std::vector<Result<ClientResponse>> request_all(const std::vector<Call>& calls);
// True when a request_all() failure was its deadline (the peer may be alive but slow), not a
// refusal, a reset or a bad answer.
bool timed_out(const Error& e);
// True when a call failed on this process's own resources (no file descriptor, no local port,
// no buffer), so that the peer must not be blamed for it.
bool local_failure(const Error& e);

// Repeated requests to one peer over one kept-alive connection (the daemon's scrapes): the
// socket is reused while the server keeps it open; a request on a reused socket that finds
// it closed is retried once on a fresh one. Not thread-safe: one caller at a time.
class Connection {
 public:
  Connection(std::string host, uint16_t port);
  ~Connection();
  Connection(Connection&&) noexcept;
  Connection& operator=(Connection&&) noexcept;
  Result<ClientResponse> request(const std::string& method, const std::string& target,
                                 const std::string& body = {}, const ClientOptions& options = {});
  uint64_t connects() const;  // sockets opened so far (1 while reuse works)
  bool open() const;          // a socket is held for the next request

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Kept-alive connections to many peers, shared by threads (the router's calls to engines):
// a request takes an idle connection to its peer or opens one, and gives it back when the
// server kept it open. At most max_idle_per_peer wait per peer; the rest are closed.
class ConnectionPool {
 public:
  explicit ConnectionPool(size_t max_idle_per_peer = 64) : max_idle_(max_idle_per_peer) {}
  Result<ClientResponse> request(const std::string& host, uint16_t port, const std::string& method,
                                 const std::string& target, const std::string& body = {},
                                 const ClientOptions& options = {});
  size_t idle() const;      // connections waiting, all peers
  uint64_t opened() const;  // sockets opened so far, all peers

 private:
  const size_t max_idle_;
  mutable std::mutex mu_;
  std::map<std::string, std::vector<Connection>> idle_;
  uint64_t opened_ = 0;
};

// "http://host:port/path" -> parts. InvalidArgument for anything else (no https here).
struct Url {
  std::string host;
  uint16_t port = 80;
  std::string target = "/";
};
Result<Url> parse_url(std::string_view url);

}  // namespace hs::http
