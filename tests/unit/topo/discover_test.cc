// The node model against ground truth read from the real exports by other tools:
// GROUND_TRUTH_lstopo.txt (relations from lstopo -v) and expected_gpu_locality.txt
// (hwloc-calc). Every GPU/NIC pair's class and every GPU's locality is compared.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "hs/common/text.h"
#include "hs/topo/discover.h"
#include "hs/topo/node_report.h"

namespace hs::topo {
namespace {

const std::string kTopoDir = std::string(HS_TEST_DATA_DIR) + "/topo/";

struct Truth {
  std::map<std::string, std::string> gpu_numa;                   // bus -> "1"
  std::map<std::pair<std::string, std::string>, PathClass> rel;  // (gpu bus, nic name) -> class
  std::set<std::string> nics;
};

// Turns lstopo's relation wording into the issue's table of classes.
PathClass class_of(const std::string& relation) {
  if (relation.find("same PCIe switch") != std::string::npos) return PathClass::kPIX;
  if (relation.find("same host bridge") != std::string::npos) return PathClass::kPHB;
  if (relation.find("different host bridges (NODE)") != std::string::npos) return PathClass::kNODE;
  if (relation.find("different NUMA nodes") != std::string::npos) return PathClass::kSYS;
  if (relation.find("SYS (different package") != std::string::npos) return PathClass::kSYS;
  ADD_FAILURE() << "unknown relation: " << relation;
  return PathClass::kSYS;
}

std::map<std::string, Truth> read_truth() {
  std::map<std::string, Truth> out;
  std::ifstream in(kTopoDir + "GROUND_TRUTH_lstopo.txt");
  std::string line, file;
  while (std::getline(in, line)) {
    auto toks = split_whitespace(line);
    if (toks.empty() || toks[0] == "#") continue;
    if (toks[0] == "FILE") {
      file = std::string(toks[1]);
      out[file];
    } else if (toks[0] == "GPU" && line.find("<->") == std::string::npos) {
      std::string numa = line.substr(line.find("NUMA=") + 5);
      out[file].gpu_numa[std::string(toks[1])] = std::string(trim(numa));
    } else if (toks[0] == "RDMA_NIC") {
      std::string osdev(toks[4].substr(std::string_view("osdev=").size()));
      out[file].nics.insert(osdev);
    } else if (toks[0] == "GPU" && toks[2] == "<->") {
      std::string nic(toks[4]);
      nic = nic.substr(nic.find('/') + 1);
      out[file].rel[{std::string(toks[1]), nic}] = class_of(line.substr(line.find(" : ") + 3));
    }
  }
  return out;
}

TEST(Discover, EveryFixtureMatchesGroundTruth) {
  auto truth = read_truth();
  ASSERT_EQ(truth.size(), 6u);
  size_t pairs = 0;
  for (const auto& [file, t] : truth) {
    SCOPED_TRACE(file);
    auto topo = load_xml(kTopoDir + file);
    ASSERT_TRUE(topo.ok()) << topo.error().to_string();
    ASSERT_EQ(topo->gpus.size(), t.gpu_numa.size());
    ASSERT_EQ(topo->nics.size(), t.nics.size());
    for (const auto& n : topo->nics) EXPECT_TRUE(t.nics.count(n.name)) << n.name;
    for (const auto& g : topo->gpus) {
      std::string bus = g.pci.to_string();
      SCOPED_TRACE(bus);
      ASSERT_TRUE(t.gpu_numa.count(bus));
      EXPECT_EQ(g.numa_nodes.to_string(), t.gpu_numa.at(bus));
      ASSERT_EQ(g.nics.size(), t.nics.size());
      PathClass best = PathClass::kSYS;
      for (const auto& [key, cls] : t.rel)
        if (key.first == bus && cls < best) best = cls;
      for (const auto& p : g.nics) {
        const std::string& name = topo->nics[p.nic].name;
        ASSERT_TRUE(t.rel.count({bus, name})) << name;
        EXPECT_EQ(to_string(p.path), to_string(t.rel.at({bus, name}))) << name;
        ++pairs;
      }
      if (!g.nics.empty()) {
        // Nearest first: the first NIC has the best class the ground truth allows, and the
        // list never goes back to a nearer class.
        EXPECT_EQ(to_string(g.nics.front().path), to_string(best));
        for (size_t i = 1; i < g.nics.size(); ++i) EXPECT_LE(g.nics[i - 1].path, g.nics[i].path);
      }
    }
  }
  EXPECT_EQ(pairs, 8u + 16 + 16 + 8 + 2);  // every GPU/NIC pair of the five fixtures with NICs
}

TEST(Discover, GpuLocalityMatchesHwlocCalc) {
  std::ifstream in(kTopoDir + "expected_gpu_locality.txt");
  std::string line;
  std::map<std::string, NodeTopology> loaded;
  size_t checked = 0;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    auto toks = split_whitespace(line);
    ASSERT_EQ(toks.size(), 4u) << line;
    std::string file(toks[0]);
    if (!loaded.count(file)) {
      auto t = load_xml(kTopoDir + file);
      ASSERT_TRUE(t.ok()) << t.error().to_string();
      loaded[file] = *t;
    }
    const Gpu* g = loaded[file].gpu_by_pci(*PciAddress::parse(toks[1]));
    ASSERT_NE(g, nullptr) << line;
    EXPECT_EQ(g->cpuset, *IdSet::parse(toks[2])) << line;
    EXPECT_EQ(g->numa_nodes, *IdSet::parse(toks[3])) << line;
    ++checked;
  }
  EXPECT_EQ(checked, 8u + 4 + 4 + 4 + 2 + 16);
}

TEST(Discover, TieBreaksAreDocumentedOrder) {
  // XE8640 (SNC4): GPU 0000:5f:00.0 is PIX to mlx5_2; mlx5_0/1 are SYS on the same package
  // (another SNC domain) and come before mlx5_3 on the other socket.
  auto t = load_xml(kTopoDir + "dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml");
  ASSERT_TRUE(t.ok());
  const Gpu* g = t->gpu_by_pci(*PciAddress::parse("0000:5f:00.0"));
  ASSERT_NE(g, nullptr);
  std::vector<std::string> order;
  for (const auto& p : g->nics)
    order.push_back(t->nics[p.nic].name + "/" + std::string(to_string(p.path)));
  EXPECT_EQ(order,
            (std::vector<std::string>{"mlx5_2/PIX", "mlx5_0/SYS", "mlx5_1/SYS", "mlx5_3/SYS"}));
  EXPECT_TRUE(g->nics[1].same_package);
  EXPECT_FALSE(g->nics[3].same_package);
  // GPUs in PCI bus order; names and models as the export says.
  EXPECT_EQ(t->gpus[0].pci.to_string(), "0000:4e:00.0");
  EXPECT_EQ(t->gpus[0].model, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(t->nic_by_name("mlx5_0")->netdevs, std::vector<std::string>{"hsi0"});
  EXPECT_EQ(t->nic_by_name("mlx5_0")->ports.at(0).state, "ACTIVE");
  EXPECT_EQ(t->nic_by_name("mlx5_1")->ports.at(0).state, "DOWN");
}

TEST(Discover, FixtureShapes) {
  struct Case {
    const char* file;
    size_t packages, numa, cores, pus, gpus, nics;
    const char* first_gpu_vendor;
  } cases[] = {
      {"amd-epyc-2s-8xmi50-1mlx5-pciesw.xml", 2, 2, 48, 96, 8, 1, "amd"},
      {"dell-xe8640-2s-snc4-4xh100-4mlx5-pciesw.xml", 2, 8, 112, 224, 4, 4, "nvidia"},
      {"ibm-ac922-power9-2s-4xv100-4mlx5.xml", 2, 2, 40, 160, 4, 4, "nvidia"},
      {"ibm-power8-2s-4xp100-2mlx5-v1.xml", 2, 2, 20, 160, 4, 2, "nvidia"},
      {"intel-2s-2xp100-1mlx5-pciesw.xml", 2, 2, 36, 72, 2, 1, "nvidia"},
      {"nvidia-dgx2-2s-16xv100-nvswitch-nonic.xml", 2, 2, 4, 4, 16, 0, "nvidia"},
  };
  for (const auto& c : cases) {
    auto t = load_xml(kTopoDir + c.file);
    ASSERT_TRUE(t.ok()) << c.file << ": " << t.error().to_string();
    EXPECT_EQ(t->packages.size(), c.packages) << c.file;
    EXPECT_EQ(t->numa_nodes.size(), c.numa) << c.file;
    EXPECT_EQ(t->cores, c.cores) << c.file;
    EXPECT_EQ(t->pus, c.pus) << c.file;
    EXPECT_EQ(t->gpus.size(), c.gpus) << c.file;
    EXPECT_EQ(t->nics.size(), c.nics) << c.file;
    EXPECT_EQ(to_string(t->gpus.at(0).vendor), c.first_gpu_vendor) << c.file;
    for (size_t i = 0; i < t->gpus.size(); ++i) EXPECT_EQ(t->gpus[i].index, i);
  }
}

TEST(Discover, JsonHasTheDocumentedFields) {
  auto t = load_xml(kTopoDir + "intel-2s-2xp100-1mlx5-pciesw.xml");
  ASSERT_TRUE(t.ok());
  std::string j = to_json(*t);
  for (const char* needle :
       {"\"schema\": \"heteroscale.topo.node/v1\"", "\"pci_bus_id\": \"0000:04:00.0\"",
        "\"cpuset\": \"0-17,36-53\"", "\"name\": \"mlx5_0\"", "\"path\": \"PIX\""}) {
    EXPECT_NE(j.find(needle), std::string::npos) << needle;
  }
}

TEST(Discover, LiveMachineLoads) {
  auto t = discover_live();
  ASSERT_TRUE(t.ok()) << t.error().to_string();
  EXPECT_GT(t->pus, 0u);
  EXPECT_GE(t->numa_nodes.size(), 1u);
  EXPECT_EQ(t->cpuset.size(), t->pus);
}

}  // namespace
}  // namespace hs::topo
