#include "hs/topo/fabric.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "hs/topo/ibnetdiscover.h"
#include "hs/topo/topology_conf.h"

namespace hs::topo {
namespace {

const std::string kFabricDir = std::string(HS_TEST_DATA_DIR) + "/fabric/";

Fabric from_conf(const std::string& text) {
  auto d = parse_topology_conf(text, "t.conf");
  EXPECT_TRUE(d.ok()) << d.error().to_string();
  auto f = Fabric::build(*d, "t.conf");
  EXPECT_TRUE(f.ok()) << f.error().to_string();
  return *f;
}

// Two pods of two leaves each, two spines per pod, one core above both pods.
const char* kThreeTier = R"(SwitchName=a1 Nodes=n[1-2]
SwitchName=a2 Nodes=n[3-4]
SwitchName=b1 Nodes=n[5-6]
SwitchName=b2 Nodes=n[7-8]
SwitchName=sa1 Switches=a[1-2]
SwitchName=sa2 Switches=a[1-2]
SwitchName=sb1 Switches=b[1-2]
SwitchName=sb2 Switches=b[1-2]
SwitchName=core Switches=sa[1-2],sb[1-2]
)";

TEST(Fabric, LevelsParentsAndDistance) {
  Fabric f = from_conf(kThreeTier);
  EXPECT_EQ(f.max_level(), 2);
  EXPECT_EQ(f.node_count(), 8u);
  EXPECT_EQ(f.find_switch("a1")->level, 0);
  EXPECT_EQ(f.find_switch("sa1")->level, 1);
  EXPECT_EQ(f.find_switch("core")->level, 2);
  EXPECT_EQ(f.find_switch("a1")->parents, (std::vector<std::string>{"sa1", "sa2"}));

  struct Case {
    const char* a;
    const char* b;
    FabricTier tier;
    int level;
    std::vector<std::string> via;
  } cases[] = {
      {"n1", "n1", FabricTier::kSameNode, -1, {}},
      {"n1", "n2", FabricTier::kSameLeaf, 0, {"a1"}},
      {"n1", "n3", FabricTier::kSameSpine, 1, {"sa1", "sa2"}},
      {"n1", "n5", FabricTier::kFurther, 2, {"core"}},
  };
  for (const auto& c : cases) {
    auto d = f.distance(c.a, c.b);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(to_string(d->tier), to_string(c.tier)) << c.a << " " << c.b;
    EXPECT_EQ(d->level, c.level) << c.a << " " << c.b;
    EXPECT_EQ(d->switches, c.via) << c.a << " " << c.b;
  }
  EXPECT_EQ(f.distance("n1", "nope").error().code, ErrorCode::kNotFound);

  auto leaves = f.domains(0);
  ASSERT_EQ(leaves.size(), 4u);
  EXPECT_EQ(leaves[0].nodes, (std::vector<std::string>{"n1", "n2"}));
  auto pods = f.domains(1);
  ASSERT_EQ(pods.size(), 4u);
  EXPECT_EQ(pods[0].switch_name, "sa1");
  EXPECT_EQ(pods[0].nodes, (std::vector<std::string>{"n1", "n2", "n3", "n4"}));
  EXPECT_EQ(f.domains(2).at(0).nodes.size(), 8u);
}

TEST(Fabric, MutualListingsAreOrientedByLevelNotCycles) {
  // s1 and s2 list each other and both have leaves: same level -> peers.
  // top lists s1 and s1 lists top: top has nothing else, so it sits above s1.
  Fabric f = from_conf(
      "SwitchName=l1 Nodes=n1\nSwitchName=l2 Nodes=n2\nSwitchName=l3 Nodes=n3\n"
      "SwitchName=s1 Switches=l1,s2,top\nSwitchName=s2 Switches=l2,s1\nSwitchName=s3 Switches=l3\n"
      "SwitchName=top Switches=s1,s3\n");
  EXPECT_EQ(f.find_switch("s1")->peers, std::vector<std::string>{"s2"});
  EXPECT_EQ(f.find_switch("s2")->peers, std::vector<std::string>{"s1"});
  EXPECT_EQ(f.find_switch("top")->level, 2);
  EXPECT_EQ(f.find_switch("s1")->parents, std::vector<std::string>{"top"});
  // n1 (under s1) and n2 (under s2) share no switch; they meet over the s1-s2 peer cable.
  auto d = f.distance("n1", "n2");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tier, FabricTier::kFurther);
  EXPECT_EQ(d->level, 2);
  EXPECT_EQ(d->switches, (std::vector<std::string>{"s1", "s2"}));
  // n1 and n3 share top.
  EXPECT_EQ(f.distance("n1", "n3")->switches, std::vector<std::string>{"top"});
}

TEST(Fabric, DisconnectedNodes) {
  Fabric f = from_conf("SwitchName=l1 Nodes=n1\nSwitchName=l2 Nodes=n2\n");
  auto d = f.distance("n1", "n2");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->tier, FabricTier::kDisconnected);
}

// The acceptance test of the emitter: topology.conf written from the real 89-HCA capture
// describes the same fabric as the one published with it: for every switch, the same nodes
// and the same parents (both read through the same model).
TEST(Fabric, EmittedConfFromCaptureMatchesPublishedConf) {
  auto from_capture = load_ibnetdiscover(kFabricDir + "psmn-x5_ibnetdiscover.txt",
                                         kFabricDir + "psmn-x5_guid2host.map");
  ASSERT_TRUE(from_capture.ok()) << from_capture.error().to_string();
  EXPECT_EQ(from_capture->node_count(), 89u);
  std::string emitted = emit_topology_conf(*from_capture);
  auto decls = parse_topology_conf(emitted, "emitted");
  ASSERT_TRUE(decls.ok()) << decls.error().to_string();
  auto reread = Fabric::build(*decls, "emitted");
  ASSERT_TRUE(reread.ok()) << reread.error().to_string();
  auto published = load_topology_conf(kFabricDir + "psmn-x5_topology.conf");
  ASSERT_TRUE(published.ok()) << published.error().to_string();

  ASSERT_EQ(reread->switches().size(), published->switches().size());
  ASSERT_EQ(reread->switches().size(), 11u);
  for (const auto& p : published->switches()) {
    const FabricSwitch* e = reread->find_switch(p.name);
    ASSERT_NE(e, nullptr) << p.name;
    EXPECT_EQ(e->nodes, p.nodes) << p.name;
    EXPECT_EQ(e->parents, p.parents) << p.name;
    EXPECT_EQ(e->level, p.level) << p.name;
  }
  // The emitted file never lists two switches under each other (slurmctld 22.05 refuses
  // that with "Switch configuration is not a tree"); the published file does.
  for (const auto& d : *decls) {
    for (const auto& c : d.switches) {
      for (const auto& d2 : *decls) {
        if (d2.name != c) continue;
        EXPECT_EQ(std::count(d2.switches.begin(), d2.switches.end(), d.name), 0)
            << d.name << " <-> " << c;
      }
    }
  }
}

TEST(Fabric, CaptureWithoutMapNamesNodesById) {
  auto f = load_ibnetdiscover(kFabricDir + "psmn-x5_ibnetdiscover.txt");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->has_node("H-78e7d10300227744"));
  EXPECT_FALSE(f->has_node("sl390lin1"));
}

TEST(Fabric, IbsimExamples) {
  // Two switches, each with two HCAs, joined by two cables: equal level, so peers.
  auto f = load_ibnetdiscover(kFabricDir + "ibsim_net.2sw2path4hca.txt");
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->node_count(), 4u);
  EXPECT_EQ(f->find_switch("Switch1")->peers, std::vector<std::string>{"Switch2"});
  EXPECT_EQ(f->distance("Hca1", "Hca3")->tier, FabricTier::kSameLeaf);
  EXPECT_EQ(f->distance("Hca1", "Hca2")->tier, FabricTier::kSameSpine);  // over the peer cable
  std::string conf = emit_topology_conf(*f);
  EXPECT_NE(conf.find("# same-level link (not expressible here): Switch1 <-> Switch2"),
            std::string::npos)
      << conf;
}

}  // namespace
}  // namespace hs::topo
