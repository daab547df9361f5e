// Bad input, file by file: every error names the file and, where it has one, the line (and
// column for topology.conf), and says what is wrong. One table per reader.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>

#include "hs/common/file.h"
#include "hs/topo/discover.h"
#include "hs/topo/ibnetdiscover.h"
#include "hs/topo/topology_conf.h"

namespace hs::topo {
namespace {

const std::string kData = std::string(HS_TEST_DATA_DIR);

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/hs_topo_errors_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { (void)std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string write(const std::string& name, const std::string& content) {
    std::string p = path_ + "/" + name;
    EXPECT_TRUE(write_file_atomic(p, content).ok());
    return p;
  }

 private:
  std::string path_;
};

struct Case {
  const char* name;
  std::string content;
  const char* where_suffix;  // expected end of some error's "where" ("" = the file itself)
  const char* says;          // expected part of the message
};

// Each error (or cause) as "where: message" lines.
std::string flatten(const Error& e) { return e.to_string(); }

void expect_error(const Error& e, const std::string& file, const Case& c) {
  std::string all = flatten(e);
  std::string where = file + c.where_suffix;
  EXPECT_NE(all.find(where + ": "), std::string::npos)
      << c.name << ": want where " << where << " in\n"
      << all;
  EXPECT_NE(all.find(c.says), std::string::npos) << c.name << ": want \"" << c.says << "\" in\n"
                                                 << all;
}

TEST(TopoErrors, HwlocXml) {
  std::string real = *read_file(kData + "/topo/intel-2s-2xp100-1mlx5-pciesw.xml");
  size_t half = real.size() / 2;
  size_t cut_line = 1;
  for (size_t i = 0; i < half; ++i) cut_line += real[i] == '\n';
  std::string cut_where = ":" + std::to_string(cut_line);
  std::vector<Case> cases = {
      {"empty", "", "", "empty file"},
      {"truncated real export", real.substr(0, half), cut_where.c_str(), "truncated"},
      {"not XML", "Machine (P#0 total=263696012KB)\n", ":1", "not XML"},
      {"other XML", "<?xml version=\"1.0\"?>\n<svg width=\"1\"></svg>\n", ":2",
       "root element is <svg>"},
      {"mismatched",
       "<topology version=\"2.0\">\n<object type=\"Machine\">\n</info>\n</topology>\n", ":3",
       "does not match"},
      {"hwloc rejects",
       "<topology version=\"2.0\">\n<object type=\"NoSuchType\" os_index=\"0\"/>\n</topology>\n",
       "", "hwloc rejected"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    std::string p = dir.write("bad.xml", c.content);
    auto r = load_xml(p);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.name;
    expect_error(r.error(), p, c);
  }
  auto missing = load_xml("/nonexistent/x.xml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().where, "/nonexistent/x.xml");
}

TEST(TopoErrors, TopologyConf) {
  std::vector<Case> cases = {
      {"unknown key", "SwitchName=s1 Nodes=n1 Foo=bar\n", ":1:24", "unknown key \"Foo\""},
      {"bad hostlist", "SwitchName=s1 Nodes=n[1-\n", ":1:21", "'[' without ']'"},
      {"descending range", "\nSwitchName=s1 Nodes=n[5-2]\n", ":2:21", "descending range"},
      {"listed, never defined", "SwitchName=l1 Nodes=n1\nSwitchName=s Switches=l1,l9\n", ":2",
       "\"l9\" is listed in Switches= of \"s\" but never defined"},
      {"duplicate switch", "SwitchName=l1 Nodes=n1\nSwitchName=l1 Nodes=n2\n", ":2",
       "defined twice (first at "},
      {"no SwitchName first", "Nodes=n1 SwitchName=l1\n", ":1:1", "must start with SwitchName"},
      {"block plugin key", "BlockName=b1 Nodes=n[1-4]\n", ":1:1", "topology/block"},
      {"empty value", "SwitchName=l1 Nodes=\n", ":1:21", "empty value"},
      {"key twice", "SwitchName=l1 Nodes=n1 Nodes=n2\n", ":1:24", "given twice"},
      {"not Key=Value", "SwitchName=l1 n1\n", ":1:15", "expected Key=Value"},
      {"bad LinkSpeed", "SwitchName=l1 Nodes=n1 LinkSpeed=fast\n", ":1:34",
       "LinkSpeed must be a whole number"},
      {"self listing", "SwitchName=s Switches=s\n", ":1", "lists itself"},
      {"cycle of three",
       "SwitchName=l Nodes=n\nSwitchName=a Switches=b,l\nSwitchName=b Switches=c\nSwitchName=c "
       "Switches=a\n",
       ":2", "switches form a cycle: a -> b -> c -> a"},
      {"continued line column", "SwitchName=l1 \\\n  Nodes=n[1-\n", ":2:9", "'[' without ']'"},
      {"no switches at all", "# nothing here\n\n", "", "no SwitchName lines"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    std::string p = dir.write("topology.conf", c.content);
    auto r = load_topology_conf(p);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument) << c.name;
    expect_error(r.error(), p, c);
  }
}

TEST(TopoErrors, TopologyConfReportsEveryErrorAtOnce) {
  TempDir dir;
  std::string p =
      dir.write("t.conf", "SwitchName=a Foo=1\nSwitchName=b Nodes=x[\nSwitchName=c Bar=2\n");
  auto r = load_topology_conf(p);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().causes.size(), 3u) << r.error().to_string();
}

TEST(TopoErrors, Ibnetdiscover) {
  const std::string sw = "Switch\t4 \"S-1\"\t\t# \"sw\"\n[1]\t\"H-1\"[1]\t\t# lid 1 4xQDR\n\n";
  const std::string ca = "Ca\t1 \"H-1\"\t\t# \"hca\"\n[1]\t\"S-1\"[1]\n\n";
  std::vector<Case> cases = {
      {"a topology.conf", "SwitchName=l1 Nodes=n1\n", "", "not ibnetdiscover output"},
      {"empty", "", "", "not ibnetdiscover output: no Switch or Ca records (empty file)"},
      {"port before header", "[1]\t\"S-1\"[2]\n" + sw + ca, ":1", "port line outside"},
      {"link to nothing", sw + "Ca\t1 \"H-1\"\n[1]\t\"S-9\"[1]\n", ":5",
       "links to \"S-9\", which has no record"},
      {"port past count", "Switch\t2 \"S-1\"\n[3]\t\"H-1\"[1]\n\n" + ca, ":2", "outside 1..2"},
      {"duplicate node", sw + ca + "Ca\t1 \"H-1\"\n", ":7", "defined twice (first at line 4)"},
      {"bad header", "Switch\tmany \"S-1\"\n", ":1", "bad Switch header"},
      {"ibsim include", "include other.net\n" + sw + ca, ":1", "ibsim extension \"include\""},
      {"garbage line", sw + ca + "hello there\n", ":7", "unexpected line"},
      {"bad port line", "Switch\t2 \"S-1\"\n[1]\tH-1[1]\n", ":2", "bad port line"},
  };
  TempDir dir;
  for (const auto& c : cases) {
    std::string p = dir.write("ibnet.txt", c.content);
    auto r = load_ibnetdiscover(p);
    ASSERT_FALSE(r.ok()) << c.name;
    expect_error(r.error(), p, c);
  }
}

TEST(TopoErrors, NodeMap) {
  TempDir dir;
  std::string net = dir.write(
      "ibnet.txt", "Switch\t4 \"S-1\"\n[1]\t\"H-1\"[1]\n\nCa\t1 \"H-1\"\n[1]\t\"S-1\"[1]\n");
  std::vector<Case> cases = {
      {"three fields", "H-1 host1 extra\n", ":1", "expected \"KEY HOSTNAME\""},
      {"duplicate key", "H-1 a\n\nH-1 b\n", ":3", "mapped twice (first at line 1)"},
  };
  for (const auto& c : cases) {
    std::string p = dir.write("map.txt", c.content);
    auto r = load_ibnetdiscover(net, p);
    ASSERT_FALSE(r.ok()) << c.name;
    expect_error(r.error(), p, c);
  }
  auto missing = load_ibnetdiscover(net, "/nonexistent/map");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace hs::topo
