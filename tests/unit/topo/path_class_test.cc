#include "hs/topo/path_class.h"

#include <gtest/gtest.h>

namespace hs::topo {
namespace {

TEST(PathClass, OrderedClosestFirstAndRoundTrips) {
  EXPECT_LT(PathClass::kPIX, PathClass::kPXB);
  EXPECT_LT(PathClass::kPXB, PathClass::kPHB);
  EXPECT_LT(PathClass::kPHB, PathClass::kNODE);
  EXPECT_LT(PathClass::kNODE, PathClass::kSYS);
  for (auto p :
       {PathClass::kPIX, PathClass::kPXB, PathClass::kPHB, PathClass::kNODE, PathClass::kSYS}) {
    auto r = parse_path_class(to_string(p));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, p);
  }
}

TEST(PathClass, ParseRejectsUnknownAndOtherCase) {
  for (const char* in : {"", "pix", "NV12", "PXN", "SYS ", "LOC"})
    EXPECT_FALSE(parse_path_class(in).ok()) << in;
}

}  // namespace
}  // namespace hs::topo
