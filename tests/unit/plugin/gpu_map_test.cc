#include "gpu_map.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>

#include "hs/common/file.h"

namespace hs::plugin {
namespace {

TEST(GpuMap, ParsesAndRejects) {
  auto m = parse_gpu_map("# minor bus\n0 0000:5f:00.0\n1 0000:4e:00.0  # second\n\n", "m");
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->at(0).to_string(), "0000:5f:00.0");
  EXPECT_EQ(m->at(1).to_string(), "0000:4e:00.0");
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"0\n", "m:1: expected \"INDEX PCI_BUS_ID\""},
      {"x 0000:5f:00.0\n", "m:1: bad GPU index"},
      {"0 5f:00\n", "m:1: bad PCI address"},
      {"0 0000:5f:00.0\n0 0000:4e:00.0\n", "m:2: GPU index 0 mapped twice"},
  };
  for (const auto& c : cases) {
    auto r = parse_gpu_map(c.text, "m");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().to_string().find(c.says), std::string::npos) << r.error().to_string();
  }
}

TEST(GpuMap, ReadsNvidiaDriverLayout) {
  char tmpl[] = "/tmp/hs_gpumap_XXXXXX";
  std::string root = mkdtemp(tmpl);
  // The driver's layout: one folder per GPU named by bus id, "Device Minor:" in information.
  for (auto [bus, minor] : {std::pair{"0000:4e:00.0", "1"}, std::pair{"0000:5f:00.0", "0"}}) {
    std::string d = root + "/" + bus;
    mkdir(d.c_str(), 0755);
    ASSERT_TRUE(write_file_atomic(d + "/information",
                                  std::string("Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   \t 123\n"
                                              "Device Minor: \t ") +
                                      minor + "\nBus Location: \t " + bus + "\n")
                    .ok());
  }
  auto m = read_nvidia_proc(root);
  ASSERT_TRUE(m.ok()) << m.error().to_string();
  EXPECT_EQ(m->size(), 2u);
  EXPECT_EQ(m->at(0).to_string(), "0000:5f:00.0");
  EXPECT_EQ(m->at(1).to_string(), "0000:4e:00.0");
  EXPECT_EQ(read_nvidia_proc("/nonexistent").error().code, ErrorCode::kNotFound);
  (void)std::system(("rm -rf " + root).c_str());
}

}  // namespace
}  // namespace hs::plugin
