#include "hs/common/error.h"

#include <gtest/gtest.h>

namespace hs {
namespace {

Result<int> half(int x) {
  if (x % 2) return invalid_argument("odd: " + std::to_string(x), "arg");
  return x / 2;
}

Status quarter(int x, int* out) {
  auto h = half(x);
  HS_RETURN_IF_ERROR(h);
  auto q = half(*h);
  HS_RETURN_IF_ERROR(q);
  *out = *q;
  return ok_status();
}

TEST(Result, ValueAndError) {
  auto ok = half(8);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 4);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().to_string(), "arg: odd: 3");
  EXPECT_EQ(bad.value_or(-1), -1);
}

TEST(Result, PropagatesThroughMacro) {
  int out = 0;
  EXPECT_TRUE(quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  auto st = quarter(6, &out);  // 6 -> 3 -> odd
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "odd: 3");
}

TEST(ErrorList, OneErrorIsItselfSeveralBecomeCauses) {
  ErrorList l;
  l.add(invalid_argument("first", "f:1:2"));
  EXPECT_EQ(l.to_error("summary").to_string(), "f:1:2: first");
  l.add(not_found("second", "f:3"));
  Error e = l.to_error("2 errors");
  EXPECT_EQ(e.to_string(), "2 errors\n  f:1:2: first\n  f:3: second");
  EXPECT_EQ(e.causes.size(), 2u);
}

TEST(Error, WithContextAndCodeNames) {
  Error e = unavailable("timed out", "10.0.0.1:8000").with_context("scrape");
  EXPECT_EQ(e.to_string(), "10.0.0.1:8000: scrape: timed out");
  EXPECT_EQ(to_string(ErrorCode::kFailedPrecondition), "failed_precondition");
  EXPECT_EQ(to_string(ErrorCode::kPermissionDenied), "permission_denied");
}

}  // namespace
}  // namespace hs
