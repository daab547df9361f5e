#include "xml_check.h"

#include <gtest/gtest.h>

namespace hs::topo::detail {
namespace {

TEST(XmlCheck, AcceptsWellFormed) {
  for (const char* ok : {
           "<?xml version=\"1.0\"?>\n<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n<topology "
           "version=\"2.0\">\n"
           "  <object type=\"Machine\" a='x>y'>\n    <info name=\"n\" value=\"v\"/>\n  "
           "</object>\n</topology>\n",
           "\xEF\xBB\xBF<topology/>",
           "<!-- c --><topology><a/><!-- <b> --></topology>",
       }) {
    auto st = check_xml(ok, "f.xml", "topology");
    EXPECT_TRUE(st.ok()) << ok << "\n" << st.error().to_string();
  }
}

TEST(XmlCheck, RejectsWithLine) {
  struct Case {
    const char* xml;
    const char* where;
    const char* says;
  } cases[] = {
      {"", "f.xml", "empty file"},
      {"hello", "f.xml:1", "not XML"},
      {"<?xml version=\"1.0\"?>\n<html></html>", "f.xml:2", "root element is <html>"},
      {"<topology>\n<object>\n<object>\n</object>\n", "f.xml:5",
       "<object> opened at line 2 still open"},
      {"<topology>\n<object type=\"PU", "f.xml:2", "attribute value opened at line 2"},
      {"<topology>\n<object type=\"PU\"", "f.xml:2", "inside the <object> tag opened at line 2"},
      {"<topology>\n<a>\n</b>\n</topology>", "f.xml:3", "</b> does not match <a> opened at line 2"},
      {"<topology></topology>\n<topology/>", "f.xml:2", "second root"},
      {"<topology></topology>x", "f.xml:1", "text after the root"},
      {"<topology><!-- never closed", "f.xml:1", "inside a comment"},
      {"<topology>\n</topology>\n</x>", "f.xml:3", "without an open element"},
  };
  for (const auto& c : cases) {
    auto st = check_xml(c.xml, "f.xml", "topology");
    ASSERT_FALSE(st.ok()) << c.xml;
    EXPECT_EQ(st.error().where, c.where) << c.xml << " -> " << st.error().to_string();
    EXPECT_NE(st.error().message.find(c.says), std::string::npos)
        << c.xml << " -> " << st.error().to_string();
  }
}

}  // namespace
}  // namespace hs::topo::detail
