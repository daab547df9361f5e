// The client's request and response conversions, shared by the one-at-a-time client
// (http.cc) and the batch (http_batch.cc). Internal to hs_common.
#pragma once

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <string>
#include <string_view>

#include "hs/common/http.h"
#include "hs/common/text.h"

namespace hs::http::detail {

namespace bhttp = boost::beast::http;

// The words timed_out() looks for in an error.
inline constexpr std::string_view kTimedOut = "timed out after ";

// What failed ("cannot connect", "no response", ...), with a deadline made plain: a timer
// that cancelled the step reads as "timed out after N ms", as Beast's own timeout does.
inline Error step_error(std::string_view step, const boost::system::error_code& ec,
                        std::chrono::milliseconds limit, const std::string& where) {
  bool timeout = ec == boost::beast::error::timeout || ec == boost::asio::error::operation_aborted;
  std::string why =
      timeout ? std::string(kTimedOut) + std::to_string(limit.count()) + " ms" : ec.message();
  return unavailable(std::string(step) + ": " + why, where);
}

inline bhttp::request<bhttp::string_body> make_request(
    const std::string& host, const std::string& method, const std::string& target,
    const std::string& body, const ClientOptions& o, bool keep_alive = false) {
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

inline ClientResponse to_response(bhttp::response_parser<bhttp::string_body>& p) {
  ClientResponse r;
  r.status = static_cast<int>(p.get().result_int());
  r.body = std::move(p.get().body());
  for (const auto& f : p.get())
    r.headers[to_lower(std::string(f.name_string()))] = std::string(f.value());
  return r;
}

}  // namespace hs::http::detail
