#include "hs/topo/pci_address.h"

#include <gtest/gtest.h>

namespace hs::topo {
namespace {

TEST(PciAddress, ParseValid) {
  struct Case {
    const char* in;
    const char* canonical;
  } cases[] = {
      {"0000:4e:00.0", "0000:4e:00.0"},     {"0035:03:00.1", "0035:03:00.1"},
      {"00000000:4E:00.0", "0000:4e:00.0"},  // nvidia-smi form
      {"4e:00.0", "0000:4e:00.0"},          {"ffff:ff:1f.7", "ffff:ff:1f.7"},
  };
  for (auto& c : cases) {
    auto r = PciAddress::parse(c.in);
    ASSERT_TRUE(r.ok()) << c.in << ": " << r.error().to_string();
    EXPECT_EQ(r->to_string(), c.canonical) << c.in;
  }
}

TEST(PciAddress, ParseInvalid) {
  for (const char* in :
       {"", "0000:4e:00", "0000:4e:00.8", "0000:4e:20.0", "0000:4e:0.0", "0000:4:00.0",
        "10000:4e:00.0", "zz:00.0", "0000:4e:00.0 ", "0x0:4e:00.0", "1:2:3:4.0"}) {
    EXPECT_FALSE(PciAddress::parse(in).ok()) << in;
  }
}

TEST(PciAddress, OrdersLikeBusIdOrder) {
  EXPECT_LT(*PciAddress::parse("0000:4e:00.0"), *PciAddress::parse("0000:5f:00.0"));
  EXPECT_LT(*PciAddress::parse("0004:05:00.0"), *PciAddress::parse("0035:03:00.0"));
  EXPECT_LT(*PciAddress::parse("0000:4d:00.0"), *PciAddress::parse("0000:4d:00.1"));
}

}  // namespace
}  // namespace hs::topo
