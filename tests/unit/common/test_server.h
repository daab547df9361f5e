// A loopback hs::http::Server for tests: started or the test fails there.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <utility>

#include "hs/common/http.h"

namespace hs::test {

inline std::unique_ptr<http::Server> serve(http::Handler h, http::ServerOptions o = {}) {
  auto s = http::Server::start(o, std::move(h));
  EXPECT_TRUE(s.ok()) << s.error().to_string();
  return s.ok() ? std::move(*s) : nullptr;
}

}  // namespace hs::test
