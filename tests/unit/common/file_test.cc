#include "hs/common/file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

namespace hs {
namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/hs_file_test_XXXXXX";
  return mkdtemp(tmpl);
}

TEST(File, WriteAtomicThenRead) {
  std::string d = temp_dir();
  std::string p = d + "/x.txt";
  ASSERT_TRUE(write_file_atomic(p, "hello\n").ok());
  auto r = read_file(p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "hello\n");
  ASSERT_TRUE(write_file_atomic(p, "again").ok());
  EXPECT_EQ(*read_file(p), "again");
  struct stat st;
  ASSERT_EQ(stat(p.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  unlink(p.c_str());
  rmdir(d.c_str());
}

TEST(File, ErrorsNameThePath) {
  auto missing = read_file("/nonexistent/hs/file");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(missing.error().where, "/nonexistent/hs/file");
  auto dir = read_file("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.error().code, ErrorCode::kInvalidArgument);
  std::string d = temp_dir();
  std::string p = d + "/big";
  ASSERT_TRUE(write_file_atomic(p, std::string(1000, 'x')).ok());
  auto big = read_file(p, 100);
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message.find("limit"), std::string::npos);
  unlink(p.c_str());
  rmdir(d.c_str());
}

}  // namespace
}  // namespace hs
