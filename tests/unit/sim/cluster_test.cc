// hs-sim's cluster YAML through the one strict reader: errors name file:line:col and field.
#include "hs/sim/cluster.h"

#include <gtest/gtest.h>

namespace hs::sim {
namespace {

TEST(ClusterYaml, ReadsLeavesBandwidthAndQueueWait) {
  auto c = parse_cluster_yaml(R"(leaves:
  - {name: leaf1, spine: s1, nodes: 2, gpu: h100}
  - {name: leaf1, spine: s1, nodes: 3, gpu: l40s, gpus_per_node: 4}
kv_gbytes_per_s: {same_leaf: 50}
queue_wait_s: 12
)",
                              "c.yaml");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  ASSERT_EQ(c->leaves.size(), 2u);
  EXPECT_EQ(c->leaves[1].gpus_per_node, 4u);
  EXPECT_EQ(c->kv_same_leaf_gbs, 50);
  EXPECT_EQ(c->kv_same_node_gbs, 100);  // default kept
  EXPECT_EQ(c->queue_wait_s, 12);
}

TEST(ClusterYaml, BadValuesAreErrorsNamingFileLineAndField) {
  auto c = parse_cluster_yaml(R"(leaves:
  - {name: leaf1, nodes: many, gpu: h100}
  - {name: leaf2, nodes: 1, gpu: h100, colour: red}
kv_gbytes_per_s: {sideways: 3}
queue_wait_s: abc
)",
                              "c.yaml");
  ASSERT_FALSE(c.ok());
  std::string all = c.error().to_string();
  for (const char* want : {"c.yaml:2:26: leaves[0].nodes: expected a whole number, got \"many\"",
                           "c.yaml:3:40: leaves[1].colour: unknown key",
                           "c.yaml:4:19: kv_gbytes_per_s.sideways: unknown key",
                           "c.yaml:5:15: queue_wait_s: expected a number, got \"abc\""})
    EXPECT_NE(all.find(want), std::string::npos) << want << "\n" << all;
  EXPECT_FALSE(parse_cluster_yaml("leaves: []\n", "e.yaml").ok());
}

}  // namespace
}  // namespace hs::sim
