#include "hs/common/role.h"

#include <gtest/gtest.h>

namespace hs {
namespace {

TEST(Role, RoundTripsAndIsStrict) {
  for (Role r : {Role::kPrefill, Role::kDecode, Role::kBoth})
    EXPECT_EQ(*parse_role(to_string(r)), r);
  for (const char* bad : {"", "Prefill", "prefil", "decode ", "mixed"})
    EXPECT_FALSE(parse_role(bad).ok()) << bad;
}

}  // namespace
}  // namespace hs
