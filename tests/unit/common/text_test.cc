#include "hs/common/text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

namespace hs {
namespace {

TEST(Text, TrimSplit) {
  EXPECT_EQ(trim("  a b\t\r\n"), "a b");
  EXPECT_EQ(split("a,,b", ',').size(), 3u);
  EXPECT_EQ(split("", ',').size(), 1u);
  auto w = split_whitespace("  a \t b  ");
  ASSERT_EQ(w.size(), 2u);
  EXPECT_EQ(w[1], "b");
  EXPECT_TRUE(iequals("SwitchName", "switchname"));
}

TEST(Text, IntegersValid) {
  struct Case {
    const char* in;
    uint64_t want;
  } cases[] = {{"0", 0}, {"42", 42}, {"18446744073709551615", UINT64_MAX}};
  for (auto& c : cases) {
    auto r = parse_u64(c.in);
    ASSERT_TRUE(r.ok()) << c.in;
    EXPECT_EQ(*r, c.want) << c.in;
  }
  EXPECT_EQ(*parse_i64("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(*parse_hex_u64("0x8f10500200b50"), 0x8f10500200b50ull);
  EXPECT_EQ(*parse_hex_u64("ff"), 255u);
}

TEST(Text, IntegersInvalid) {
  for (const char* in : {"", "-1", "+1", " 1", "1 ", "1x", "18446744073709551616", "0x"}) {
    EXPECT_FALSE(parse_u64(in).ok()) << in;
  }
  for (const char* in : {"", "0x", "xyz", "0x11112222333344445"})
    EXPECT_FALSE(parse_hex_u64(in).ok()) << in;
  EXPECT_FALSE(parse_i64("9223372036854775808").ok());
}

TEST(Text, Doubles) {
  EXPECT_DOUBLE_EQ(*parse_double("1.5e3"), 1500.0);
  EXPECT_TRUE(std::isinf(*parse_double("+Inf")));
  EXPECT_TRUE(std::isnan(*parse_double("NaN")));
  for (const char* in : {"", "1.5x", " 1", "abc"}) EXPECT_FALSE(parse_double(in).ok()) << in;
}

TEST(Text, NaturalOrder) {
  EXPECT_TRUE(natural_less("mlx5_2", "mlx5_10"));
  EXPECT_FALSE(natural_less("mlx5_10", "mlx5_2"));
  EXPECT_TRUE(natural_less("gpu9", "gpu10"));
  EXPECT_TRUE(natural_less("a", "b"));
  EXPECT_TRUE(natural_less("n1", "n01"));  // equal value: fewer zeros first, still a strict order
  EXPECT_FALSE(natural_less("n1", "n1"));
}

TEST(Text, QuoteEscapesAndCuts) {
  EXPECT_EQ(quote("a\"b\n"), "\"a\\\"b\\x0a\"");
  EXPECT_EQ(quote(std::string(100, 'x')).size(), 60u + 2 + 3);
}

}  // namespace
}  // namespace hs
