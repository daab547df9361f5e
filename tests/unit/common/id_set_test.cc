#include "hs/common/id_set.h"

#include <gtest/gtest.h>

namespace hs {
namespace {

TEST(IdSet, ParseValid) {
  struct Case {
    const char* in;
    const char* canonical;
    size_t size;
  } cases[] = {
      {"", "", 0},         {"0", "0", 1},         {"0-17,36-53", "0-17,36-53", 36},
      {"3,1,2", "1-3", 3}, {"5,5,5", "5", 1},     {"0-1,2-3", "0-3", 4},
      {"7-7", "7", 1},     {"1,3,5", "1,3,5", 3},
  };
  for (auto& c : cases) {
    auto r = IdSet::parse(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().to_string();
    EXPECT_EQ(r->to_string(), c.canonical) << c.in;
    EXPECT_EQ(r->size(), c.size) << c.in;
  }
}

TEST(IdSet, ParseInvalid) {
  for (const char* in :
       {",", "1,", ",1", "1-", "-1", "3-1", "a", "1 ,2", "0-4294967295", "1--2", "1-2-3"}) {
    auto r = IdSet::parse(in);
    EXPECT_FALSE(r.ok()) << in;
  }
}

TEST(IdSet, SetAlgebra) {
  IdSet a = *IdSet::parse("0-7");
  IdSet b = *IdSet::parse("4-11");
  EXPECT_EQ(a.intersect(b).to_string(), "4-7");
  EXPECT_EQ(a.unite(b).to_string(), "0-11");
  EXPECT_EQ(a.minus(b).to_string(), "0-3");
  EXPECT_TRUE(IdSet::parse("5-6")->is_subset_of(a));
  EXPECT_FALSE(b.is_subset_of(a));
  EXPECT_TRUE(a.intersects(b));
  IdSet c;
  c.insert(9);
  c.insert(2);
  c.insert(9);
  EXPECT_EQ(c.to_string(), "2,9");
  EXPECT_TRUE(c.contains(9));
  EXPECT_FALSE(c.contains(3));
}

}  // namespace
}  // namespace hs
