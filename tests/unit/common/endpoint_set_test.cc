// The endpoint-set and registration contract: what the daemon and hs-launch write, the
// router and the daemon read back, field for field; strict readers.
#include "hs/common/endpoint_set.h"

#include <gtest/gtest.h>

namespace hs::endpoint_set {
namespace {

TEST(EndpointSet, WhatIsWrittenReadsBackFieldForField) {
  Entry a{
      "http://10.0.0.1:8100", Role::kPrefill, "g1", false, "chat", "h100", "7_0", "7", "0", 1.7e9};
  Entry b{"http://10.0.0.2:8100", Role::kDecode, "g1", true, "", "", "", "", "", std::nullopt};
  auto back = parse(to_json({a, b}), "set");
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  ASSERT_EQ(back->size(), 2u);
  const Entry& x = (*back)[0];
  EXPECT_EQ(x.url, a.url);
  EXPECT_EQ(x.role, Role::kPrefill);
  EXPECT_EQ(x.service, "chat");
  EXPECT_EQ(x.id, "7_0");
  EXPECT_EQ(x.array_task_id, "0");
  EXPECT_EQ(*x.heartbeat_unix_s, 1.7e9);
  EXPECT_TRUE((*back)[1].draining);
  EXPECT_FALSE((*back)[1].heartbeat_unix_s);
}

TEST(EndpointSet, BadSetsNameTheEntryAndField) {
  struct Case {
    const char* text;
    const char* says;
  } cases[] = {
      {"{}", "expected a JSON list"},
      {R"([{"url":"http://a:1","role":"decode"}])", "endpoint 0: field 'group' must be a string"},
      {R"([{"url":"http://a:1","role":"decode","group":"g","colour":"red"}])",
       "endpoint 0: unknown field 'colour'"},
      {R"([{"url":"http://a:1","role":"decode","group":"g","draining":"no"}])",
       "field 'draining' must be true or false"},
      {R"([{"url":"http://a:1","role":"decode","group":"g"},{"url":"http://a:1","role":"prefill","group":"g"}])",
       "endpoint 1: duplicate url http://a:1"},
      {R"([{"url":"ftp://a","role":"decode","group":"g"}])", "endpoint 0: field 'url'"},
  };
  for (const auto& c : cases) {
    auto r = parse(c.text, "eps.json");
    ASSERT_FALSE(r.ok()) << c.text;
    EXPECT_NE(r.error().to_string().find(c.says), std::string::npos) << r.error().to_string();
    EXPECT_NE(r.error().to_string().find("eps.json"), std::string::npos);
  }
}

TEST(Registration, RoundTripAndStrictFields) {
  RegistrationBody b{"http://10.0.0.3:8100", Role::kDecode, "chat", "g2", "12", "3", "l40s"};
  auto back = parse_registration(to_json(b));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->group, "g2");
  EXPECT_EQ(back->gpu_type, "l40s");
  EXPECT_EQ(back->role, Role::kDecode);
  auto extra = parse_registration(
      R"({"url":"http://a:1","role":"decode","service":"s","group":"g","job_id":"1","array_task_id":"0","x":1})");
  ASSERT_FALSE(extra.ok());
  EXPECT_EQ(extra.error().where, "x");
  auto both = parse_registration(
      R"({"url":"http://a:1","role":"both","service":"s","group":"g","job_id":"1","array_task_id":"0"})");
  ASSERT_FALSE(both.ok());
  EXPECT_EQ(both.error().where, "role");
  auto task = parse_registration(
      R"({"url":"http://a:1","role":"decode","service":"s","group":"g","job_id":"1","array_task_id":""})");
  ASSERT_FALSE(task.ok());
  EXPECT_EQ(task.error().where, "array_task_id");
}

}  // namespace
}  // namespace hs::endpoint_set
