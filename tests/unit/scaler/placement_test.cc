// Placement over deployment groups on the real 89-node fabric capture (tests/data/fabric),
// with GPU types assigned per leaf switch.
#include "hs/scaler/placement.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <set>

#include "hs/topo/ibnetdiscover.h"
#include "test_util.h"

namespace hs::scaler {
namespace {

const std::string kFabric = std::string(HS_TEST_DATA_DIR) + "/fabric/";

topo::Fabric capture() {
  auto f = topo::load_ibnetdiscover(kFabric + "psmn-x5_ibnetdiscover.txt",
                                    kFabric + "psmn-x5_guid2host.map");
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  return *f;
}

// Leaves of the capture: 417670 (24 nodes) and 2036b4 (24) get h100 and l40s mixed (alternating
// nodes: scarce "S1-heterogeneous" leaves); 200b50 (21) is all l40s; 4827b0 (9) all h100;
// 108bba (6) and 20369c (5) all a100.
std::vector<NodeInventory> inventory(const topo::Fabric& f, uint32_t gpus = 4) {
  std::vector<NodeInventory> out;
  for (const auto& leaf : f.domains(0)) {
    int i = 0;
    for (const auto& n : leaf.nodes) {
      std::string type;
      if (leaf.switch_name == "S-0002c90200417670" || leaf.switch_name == "S-0008f105002036b4")
        type = (i++ % 2 == 0) ? "h100" : "l40s";
      else if (leaf.switch_name == "S-0008f10500200b50")
        type = "l40s";
      else if (leaf.switch_name == "S-0002c902004827b0")
        type = "h100";
      else
        type = "a100";
      out.push_back({n, type, gpus, true});
    }
  }
  return out;
}

ServiceConfig hetero(const char* name, Affinity a = Affinity::kLeaf, int prio = 0) {
  ServiceConfig c = testing::service();
  c.name = name;
  c.affinity = a;
  c.priority = prio;
  return c;  // 1:2, prefill h100, decode l40s
}

ServiceConfig homogeneous(const char* name, const char* type, Affinity a = Affinity::kLeaf) {
  ServiceConfig c = testing::service(1, 1);
  c.name = name;
  c.variants[0].name = std::string(type) + "-" + type;
  c.variants[0].prefill_gpu = type;
  c.variants[0].decode_gpu = type;
  c.affinity = a;
  return c;
}

std::map<std::string, std::string> leaf_of(const topo::Fabric& f) {
  std::map<std::string, std::string> m;
  for (const auto& d : f.domains(0))
    for (const auto& n : d.nodes) m[n] = d.switch_name;
  return m;
}

TEST(Placement, GroupStaysInOneLeafAndOpensElsewhereWhenFull) {
  topo::Fabric f = capture();
  auto nodes = inventory(f);
  ServiceConfig chat = hetero("chat");
  // One mixed leaf holds 12 h100 nodes x 4 = 48 h100 GPUs and 48 l40s: 24 units of 1:2 (2
  // l40s per unit). Ask for 30 units: 24 fill the first leaf, 6 open a group in the other.
  auto r = place(f, nodes, {}, {{&chat, 30}}, {});
  EXPECT_EQ(r.placed_units["chat"], 30);
  EXPECT_TRUE(r.shortfalls.empty());
  ASSERT_EQ(r.actions.size(), 2u);
  auto leaves = leaf_of(f);
  for (const auto& a : r.actions) {
    EXPECT_EQ(a.kind, GroupAction::Kind::kOpen);
    EXPECT_EQ(a.tier, 4);  // a leaf mixing GPU types
    std::set<std::string> where;
    for (const auto& p : a.placed) where.insert(leaves[p.node]);
    EXPECT_EQ(where, std::set<std::string>{a.domain})
        << a.group << ": every instance under its group's leaf";
  }
  EXPECT_EQ(r.actions[0].units + r.actions[1].units, 30);
  EXPECT_NE(r.actions[0].domain, r.actions[1].domain);
  EXPECT_EQ(std::max(r.actions[0].units, r.actions[1].units), 24);
}

TEST(Placement, TwoServicesInOneDecisionNeverDoubleBookAGpu) {
  topo::Fabric f = capture();
  auto nodes = inventory(f);
  ServiceConfig a = hetero("a", Affinity::kLeaf, 10), b = hetero("b", Affinity::kLeaf, 1);
  ServiceConfig c = homogeneous("c", "l40s");
  auto r = place(f, nodes, {}, {{&b, 20}, {&a, 20}, {&c, 30}}, {});
  std::map<std::string, uint32_t> used;
  for (const auto& act : r.actions)
    for (const auto& p : act.placed) used[p.node] += p.gpus;
  for (const auto& n : nodes) EXPECT_LE(used[n.name], n.free_gpus) << n.name;
  // Priority: a (10) gets all 20 units; b gets what is left of the two mixed leaves (48 - 20).
  EXPECT_EQ(r.placed_units["a"], 20);
  EXPECT_EQ(r.placed_units["b"], 20);
  // The homogeneous l40s service goes to the all-l40s leaf (tier 1), not the scarce mixed ones.
  for (const auto& act : r.actions)
    if (act.service == "c") {
      EXPECT_EQ(act.domain, "S-0008f10500200b50");
    }
  EXPECT_EQ(r.placed_units["c"], 30);  // 21 nodes x 4 GPUs = 84 GPUs, 2 per unit: 42 >= 30
}

TEST(Placement, FillsExistingGroupsFirstAndFallsBackToAnotherVariant) {
  topo::Fabric f = capture();
  auto nodes = inventory(f);
  ServiceConfig chat = hetero("chat");
  DeploymentGroup g{"chat", "chat-g1", "h100-l40s", "S-0008f105002036b4", 1, {}};
  g.instances.push_back({"10_0", Role::kPrefill, "sl390lin101", 1});
  auto r = place(f, nodes, {g}, {{&chat, 2}}, {});
  ASSERT_EQ(r.actions.size(), 1u);
  EXPECT_EQ(r.actions[0].kind, GroupAction::Kind::kGrow);
  EXPECT_EQ(r.actions[0].group, "chat-g1");
  // No h100 left anywhere except a budget of 0: the a100 fallback variant opens a group.
  Variant fallback{"a100-a100", "a100", "a100", {1, 2}, 800, 1, 1};
  chat.variants.push_back(fallback);
  auto r2 = place(f, nodes, {}, {{&chat, 3}}, {{"h100", 0}});
  EXPECT_EQ(r2.placed_units["chat"], 3);
  ASSERT_FALSE(r2.actions.empty());
  EXPECT_EQ(r2.actions[0].variant, "a100-a100");
  // 3 preferred units = 3 x 2 x 1000 tok/s; an a100 unit brings 2 x 800: four are needed.
  EXPECT_EQ(r2.actions[0].units, 4);
}

TEST(Placement, BudgetAndShortfallAreReported) {
  topo::Fabric f = capture();
  ServiceConfig chat = hetero("chat");
  auto r = place(f, inventory(f), {}, {{&chat, 10}}, {{"l40s", 8}});  // 8 l40s GPUs: 4 units
  EXPECT_EQ(r.placed_units["chat"], 4);
  ASSERT_EQ(r.shortfalls.size(), 1u);
  EXPECT_NE(r.shortfalls[0].find("4 of 10 units placed"), std::string::npos) << r.shortfalls[0];
}

TEST(Placement, ShrinkTakesScarceTierThenNewestGroupNewestInstances) {
  topo::Fabric f = capture();
  ServiceConfig chat = homogeneous("chat", "l40s");
  // g1 on the all-l40s leaf (tier 1), g2 on a mixed leaf (tier 4), g3 newer on the l40s leaf.
  auto mk = [](const char* id, const char* dom, uint64_t seq, const char* node) {
    DeploymentGroup g{"chat", id, "l40s-l40s", dom, seq, {}};
    for (int k = 0; k < 2; ++k) {
      g.instances.push_back(
          {std::string(id) + "p" + std::to_string(k), Role::kPrefill, node, seq * 10 + k});
      g.instances.push_back(
          {std::string(id) + "d" + std::to_string(k), Role::kDecode, node, seq * 10 + k});
    }
    return g;
  };
  std::vector<DeploymentGroup> gs = {mk("chat-g1", "S-0008f10500200b50", 1, "r422node1"),
                                     mk("chat-g2", "S-0002c90200417670", 2, "sl390lin2"),
                                     mk("chat-g3", "S-0008f10500200b50", 3, "r422node2")};
  auto r = place(f, inventory(f), gs, {{&chat, -3}}, {});
  ASSERT_EQ(r.actions.size(), 2u);
  EXPECT_EQ(r.actions[0].group, "chat-g2");  // the scarce mixed leaf first
  EXPECT_EQ(r.actions[0].units, -2);
  EXPECT_EQ(r.actions[0].remove,
            (std::vector<std::string>{"chat-g2p1", "chat-g2d1", "chat-g2p0", "chat-g2d0"}));
  EXPECT_EQ(r.actions[1].group, "chat-g3");  // then the newest
  EXPECT_EQ(r.actions[1].units, -1);
}

TEST(Placement, SpineAffinityUsesLevelOneDomains) {
  topo::Fabric f = capture();
  ServiceConfig chat = hetero("chat", Affinity::kSpine);
  auto r = place(f, inventory(f), {}, {{&chat, 2}}, {});
  ASSERT_EQ(r.actions.size(), 1u);
  EXPECT_NE(f.find_switch(r.actions[0].domain), nullptr);
  EXPECT_EQ(f.find_switch(r.actions[0].domain)->level, 1);
}

}  // namespace
}  // namespace hs::scaler
