#include "hs/topo/hostlist.h"

#include <gtest/gtest.h>

#include <set>

namespace hs::topo {
namespace {

using V = std::vector<std::string>;

TEST(Hostlist, ExpandValid) {
  struct Case {
    const char* in;
    V want;
  } cases[] = {
      {"node1", {"node1"}},
      {"gpu[001-003,020]", {"gpu001", "gpu002", "gpu003", "gpu020"}},
      {"n[9-11]", {"n9", "n10", "n11"}},
      {"a,b[1-2]", {"a", "b1", "b2"}},
      {"r[1-2]n[1-2]", {"r1n1", "r1n2", "r2n1", "r2n2"}},
      {"leaf[1-2],spine", {"leaf1", "leaf2", "spine"}},
      {"S-0008f10500108c5c", {"S-0008f10500108c5c"}},
      {"x[7]", {"x7"}},
      {"h.dom_a-1", {"h.dom_a-1"}},
  };
  for (auto& c : cases) {
    auto r = expand_hostlist(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().to_string();
    EXPECT_EQ(*r, c.want) << c.in;
  }
}

TEST(Hostlist, ExpandInvalid) {
  struct Case {
    const char* in;
    const char* says;
  } cases[] = {
      {"", "empty hostlist"},         {"n[1-", "'[' without ']'"},
      {"n1-]", "']' without '['"},    {"n[[1]]", "nested"},
      {"n[]", "empty brackets"},      {"n[3-1]", "descending"},
      {"n[a-b]", "bad range"},        {"n[1,,2]", "empty range"},
      {"a,,b", "empty name"},         {"bad host", "not allowed"},
      {"n[0-99999999]", "more than"}, {"a[0-999]b[0-9999]", "more than"},
  };
  for (auto& c : cases) {
    auto r = expand_hostlist(c.in, 100000);
    ASSERT_FALSE(r.ok()) << c.in;
    EXPECT_NE(r.error().message.find(c.says), std::string::npos)
        << c.in << " -> " << r.error().message;
  }
}

TEST(Hostlist, CompressRoundTrips) {
  struct Case {
    V in;
    const char* want;
  } cases[] = {
      {{"n3", "n1", "n2", "n7"}, "n[1-3,7]"},
      {{"gpu001", "gpu002", "gpu010"}, "gpu[001-002,010]"},
      {{"n9", "n10"}, "n[9-10]"},
      {{"a", "b1"}, "a,b1"},
      {{"n1", "n1"}, "n1"},
      {{"H-003048c749450000", "H-003048c74ae20000"}, "H-003048c74ae20000,H-003048c749450000"},
      {{"n01", "n1"}, "n1,n01"},
  };
  for (auto& c : cases) {
    std::string got = compress_hostlist(c.in);
    EXPECT_EQ(got, c.want);
    auto back = expand_hostlist(got);
    ASSERT_TRUE(back.ok()) << got;
    std::set<std::string> a(c.in.begin(), c.in.end()), b(back->begin(), back->end());
    EXPECT_EQ(a, b) << got;
  }
}

}  // namespace
}  // namespace hs::topo
