#include "hs/topo/topology_conf.h"

#include <gtest/gtest.h>

namespace hs::topo {
namespace {

TEST(TopologyConf, ParsesKeysCaseInsensitivelyWithCommentsAndContinuations) {
  auto d = parse_topology_conf(
      "# comment line\n"
      "switchname=leaf1 NODES=gpu[001-002]   # trailing comment\n"
      "\n"
      "SwitchName=leaf2 \\\n  Nodes=gpu[003-004] LinkSpeed=200\n"
      "SwitchName=spine Switches=leaf[1-2]\r\n",
      "t.conf");
  ASSERT_TRUE(d.ok()) << d.error().to_string();
  ASSERT_EQ(d->size(), 3u);
  EXPECT_EQ((*d)[0].name, "leaf1");
  EXPECT_EQ((*d)[0].nodes, (std::vector<std::string>{"gpu001", "gpu002"}));
  EXPECT_EQ((*d)[0].where, "t.conf:2");
  EXPECT_EQ((*d)[1].nodes.size(), 2u);
  EXPECT_EQ((*d)[1].link_speed, "200");
  EXPECT_EQ((*d)[1].where, "t.conf:4");
  EXPECT_EQ((*d)[2].switches, (std::vector<std::string>{"leaf1", "leaf2"}));
}

TEST(TopologyConf, EmitWritesLevelOrderAndCompressedLists) {
  auto d = parse_topology_conf(
      "SwitchName=spine Switches=leaf[1-2]\nSwitchName=leaf2 Nodes=n[3-4]\nSwitchName=leaf1 "
      "Nodes=n1,n2\n",
      "t");
  ASSERT_TRUE(d.ok());
  auto f = Fabric::build(*d, "t");
  ASSERT_TRUE(f.ok());
  std::string out = emit_topology_conf(*f);
  EXPECT_NE(out.find("SwitchName=leaf1 Nodes=n[1-2]\nSwitchName=leaf2 "
                     "Nodes=n[3-4]\nSwitchName=spine Switches=leaf[1-2]\n"),
            std::string::npos)
      << out;
}

}  // namespace
}  // namespace hs::topo
