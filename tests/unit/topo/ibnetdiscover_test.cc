#include "hs/topo/ibnetdiscover.h"

#include <gtest/gtest.h>

#include "hs/common/file.h"

namespace hs::topo {
namespace {

const std::string kFabricDir = std::string(HS_TEST_DATA_DIR) + "/fabric/";

TEST(Ibnetdiscover, ReadsTheRealCapture) {
  auto text = read_file(kFabricDir + "psmn-x5_ibnetdiscover.txt");
  ASSERT_TRUE(text.ok());
  auto cap = parse_ibnetdiscover(*text, "x5");
  ASSERT_TRUE(cap.ok()) << cap.error().to_string();
  size_t sw = 0, ca = 0;
  for (const auto& n : cap->nodes) (n.type == IbNodeType::kSwitch ? sw : ca)++;
  EXPECT_EQ(sw, 11u);
  EXPECT_EQ(ca, 89u);
  const IbNode& first = cap->nodes.front();
  EXPECT_EQ(first.id, "S-0008f10500200b50");
  EXPECT_EQ(first.ports, 36u);
  EXPECT_EQ(first.guid, "0x8f10500200b50");
  EXPECT_EQ(first.description, "Voltaire 4036 - 36 QDR ports switch");
  EXPECT_EQ(first.links.front().remote, "S-0008f10500108c5c");
  EXPECT_EQ(first.links.front().remote_port, 15u);
  EXPECT_EQ(first.links.front().speed, "4xQDR");
}

TEST(Ibnetdiscover, NodeMap) {
  auto m = parse_node_map("# c\nH-1 host1\n0x2 host2   # guid form\n\n", "m");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at("H-1"), "host1");
  EXPECT_EQ(m->at("0x2"), "host2");
}

TEST(Ibnetdiscover, CaNamedByGuidThroughTheMap) {
  const char* cap =
      "switchguid=0x10(10)\nSwitch\t2 \"S-10\"\t\t# \"sw\"\n[1]\t\"H-20\"[1](21)\t\t# \"h\" lid 2 "
      "4xHDR\n\n"
      "caguid=0x20\nCa\t1 \"H-20\"\t\t# \"node desc\"\n[1](21) \t\"S-10\"[1]\t\t# lid 2 lmc 0 "
      "\"sw\" lid 1 4xHDR\n";
  auto c = parse_ibnetdiscover(cap, "c");
  ASSERT_TRUE(c.ok()) << c.error().to_string();
  auto f = fabric_from_ibnetdiscover(*c, {{"0x20", "gpu001"}});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->has_node("gpu001"));
}

}  // namespace
}  // namespace hs::topo
