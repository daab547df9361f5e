#include "plugstack_config.h"

#include <gtest/gtest.h>

namespace hs::plugin {
namespace {

TEST(PlugstackConfig, DefaultsAndValid) {
  auto d = parse_plugstack_args({});
  ASSERT_TRUE(d.ok());
  // Safe on a shared cluster: tasks that do not ask are untouched, users' NIC choices win.
  EXPECT_EQ(d->default_pin, PinMode::kOff);
  EXPECT_EQ(d->nic_env, NicEnvPolicy::kKeep);
  EXPECT_EQ(parse_plugstack_args({"default_pin=all"})->default_pin, PinMode::kAuto);
  EXPECT_EQ(parse_plugstack_args({"nic_env=overwrite"})->nic_env, NicEnvPolicy::kOverwrite);
  EXPECT_TRUE(d->export_nccl && d->export_ucx);
  EXPECT_EQ(d->topology_cache, "/run/heteroscale/topology.xml");

  auto c = parse_plugstack_args({"topology_xml=/etc/hs/%n.xml", "gpu_map=/etc/hs/%n.map",
                                 "default_pin=strict", "nic_env=keep", "nic_vars=ucx",
                                 "topology_cache=/var/cache/hs/t.xml"});
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  EXPECT_EQ(c->topology_xml, "/etc/hs/%n.xml");
  EXPECT_EQ(c->gpu_map, "/etc/hs/%n.map");
  EXPECT_EQ(c->default_pin, PinMode::kStrict);
  EXPECT_EQ(c->nic_env, NicEnvPolicy::kKeep);
  EXPECT_FALSE(c->export_nccl);
  EXPECT_TRUE(c->export_ucx);
  auto none = parse_plugstack_args({"nic_vars=none"});
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->export_nccl || none->export_ucx);
}

TEST(PlugstackConfig, InvalidNamesPositionAndKey) {
  struct Case {
    std::vector<std::string> args;
    const char* says;
  } cases[] = {
      {{"pin_default=auto"}, "plugstack argument 1 (pin_default): unknown key"},
      {{"nic_env=keep", "default_pin=sometimes"},
       "plugstack argument 2 (default_pin): expected off, all, auto or strict"},
      {{"topology_xml=relative/path"},
       "plugstack argument 1 (topology_xml): must be an absolute path"},
      {{"gpu_map="}, "plugstack argument 1 (gpu_map): must be an absolute path"},
      {{"nic_env=maybe"}, "(nic_env): expected overwrite or keep (got \"maybe\")"},
      {{"nic_vars=nccl,mpi"}, "(nic_vars): expected a comma list"},
      {{"nic_vars=none,ucx"}, "(nic_vars): expected a comma list"},
      {{"verbose"}, "plugstack argument 1: expected key=value"},
      {{"=x"}, "plugstack argument 1: expected key=value"},
      {{"nic_env=keep", "nic_env=keep"}, "plugstack argument 2 (nic_env): given twice"},
  };
  for (const auto& c : cases) {
    auto r = parse_plugstack_args(c.args);
    ASSERT_FALSE(r.ok()) << c.says;
    EXPECT_NE(r.error().to_string().find(c.says), std::string::npos) << r.error().to_string();
  }
  auto two = parse_plugstack_args({"a=1", "default_pin=x"});
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.error().causes.size(), 2u);
}

TEST(PlugstackConfig, OptionValuesAndNodeName) {
  EXPECT_EQ(*parse_role("decode"), Role::kDecode);
  EXPECT_FALSE(parse_role("Decode").ok());
  EXPECT_FALSE(parse_role("").ok());
  EXPECT_EQ(*parse_pin_mode("off"), PinMode::kOff);
  EXPECT_FALSE(parse_pin_mode("on").ok());
  EXPECT_EQ(expand_node_name("/x/%n/topo-%n.xml", "node3"), "/x/node3/topo-node3.xml");
  EXPECT_EQ(expand_node_name("/x/%%n%", "a"), "/x/%a%");
}

}  // namespace
}  // namespace hs::plugin
