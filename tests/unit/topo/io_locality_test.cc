// classify() on hand-built bridge chains shaped like the fixtures' (ids are arbitrary).
#include "io_locality.h"

#include <cstdint>

#include <gtest/gtest.h>

namespace hs::topo::detail {
namespace {

IoHop host(uint64_t id) { return {id, true, id}; }
IoHop root(uint64_t id) { return {id, false, id}; }
IoHop up(uint64_t id) { return {id, false, id}; }
IoHop down(uint64_t id, uint64_t sw) { return {id, false, sw}; }

IoLocality loc(std::vector<IoHop> chain, const char* numa, std::optional<uint32_t> pkg = 0) {
  return {std::move(chain), *IdSet::parse(numa), pkg};
}

struct Case {
  const char* name;
  IoLocality a, b;
  PathClass want;
};

TEST(Classify, Table) {
  // Pascal: root port 00:03.0 -> PLX switch 02:00.0 with downstream ports 03:04/03:10/03:14.
  IoLocality gpu04 = loc({down(0x0304, 0x0200), up(0x0200), root(0x0003), host(1)}, "0");
  IoLocality nic08 = loc({down(0x0314, 0x0200), up(0x0200), root(0x0003), host(1)}, "0");
  // DGX-2: root 2b -> switch 2c (down 2d04, 2d0c) -> switch 32 (down 3300, 3310) / switch 37.
  IoLocality g34 =
      loc({down(0x3300, 0x32), up(0x32), down(0x2d04, 0x2c), up(0x2c), root(0x2b), host(1)}, "0");
  IoLocality g36 =
      loc({down(0x3310, 0x32), up(0x32), down(0x2d04, 0x2c), up(0x2c), root(0x2b), host(1)}, "0");
  IoLocality g39 =
      loc({down(0x3800, 0x37), up(0x37), down(0x2d0c, 0x2c), up(0x2c), root(0x2b), host(1)}, "0");
  // EPYC: GPU under its own root port; NIC under another root port of the same host bridge.
  IoLocality gc3 = loc({down(0xc2, 0xc1), up(0xc1), root(0xc001), host(0xc0)}, "1", 1);
  IoLocality nc4 = loc({root(0xc003), host(0xc0)}, "1", 1);
  IoLocality g83 = loc({down(0x82, 0x81), up(0x81), root(0x8001), host(0x80)}, "1", 1);
  IoLocality g03 = loc({down(0x02, 0x01), up(0x01), root(0x0001), host(0x00)}, "0", 0);
  // XE8640 SNC4: different sub-NUMA clusters of package 0.
  IoLocality g5f = loc({down(0x5b03, 0x5a), up(0x5a), root(0x5901), host(0x59)}, "1", 0);
  IoLocality n4d = loc({down(0x4a02, 0x49), up(0x49), root(0x4801), host(0x48)}, "3", 0);
  // Two functions of one device directly under a root port (POWER9 dual-port ConnectX).
  IoLocality f0 = loc({root(0x0300), host(0x03)}, "0");
  // A NIC hanging from a whole package (nodeset 0-3) and a GPU in SNC domain 1.
  IoLocality npkg = loc({root(0x9000), host(0x90)}, "0-3");

  std::vector<Case> cases = {
      {"same switch (Pascal GPU/NIC)", gpu04, nic08, PathClass::kPIX},
      {"same leaf switch (DGX-2)", g34, g36, PathClass::kPIX},
      {"two leaf switches under one (DGX-2)", g34, g39, PathClass::kPXB},
      {"same host bridge, different root ports (EPYC)", gc3, nc4, PathClass::kPHB},
      {"same NUMA, different host bridges (EPYC)", g83, nc4, PathClass::kNODE},
      {"different sockets (EPYC)", g03, nc4, PathClass::kSYS},
      {"different SNC domains of one socket", g5f, n4d, PathClass::kSYS},
      {"two functions under one root port", f0, f0, PathClass::kPIX},
      {"package-level NIC is local to each SNC node", g5f, npkg, PathClass::kNODE},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(to_string(classify(c.a, c.b)), to_string(c.want)) << c.name;
    EXPECT_EQ(to_string(classify(c.b, c.a)), to_string(c.want)) << c.name << " (reversed)";
  }
}

TEST(Classify, NoLocalityIsSys) {
  IoLocality a = loc({host(1)}, "");
  IoLocality b = loc({host(2)}, "");
  EXPECT_EQ(classify(a, b), PathClass::kSYS);
}

}  // namespace
}  // namespace hs::topo::detail
