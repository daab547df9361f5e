// vLLM's request rules as hs-engine-sim applies them: a table of bodies real vLLM refuses, with
// the status, error type and parameter it answers (sources in vllm_request.h), and bodies it
// accepts.
#include "hs/launcher/vllm_request.h"

#include <gtest/gtest.h>

namespace hs::launcher {
namespace {

using json = nlohmann::json;

const VllmLimits kLimits{"llama", 4096, 20, 128256};

TEST(VllmRequest, RefusalsCarryVllmsStatusTypeAndParam) {
  struct Case {
    bool chat;
    json body;
    int status;
    const char* type;
    const char* param;
    const char* message;  // a part of vLLM's text
  } cases[] = {
      {false,
       {{"model", "gpt-9"}, {"prompt", "x"}},
       404,
       "NotFoundError",
       "model",
       "The model `gpt-9` does not exist."},
      {false, json::object(), 400, "BadRequestError", "prompt", "Field required"},
      {false,
       {{"prompt", "x"}, {"max_tokens", 0}},
       400,
       "BadRequestError",
       "max_tokens",
       "max_tokens must be at least 1"},
      {false,
       {{"prompt", "x"}, {"max_tokens", 1}, {"min_tokens", 2}},
       400,
       "BadRequestError",
       "min_tokens",
       "min_tokens must be less than or equal to max_tokens=1"},
      {false,
       {{"prompt", "x"}, {"min_tokens", -1}},
       400,
       "BadRequestError",
       "min_tokens",
       "greater than or equal to 0"},
      {false, {{"prompt", "x"}, {"n", 0}}, 400, "BadRequestError", "n", "n must be at least 1"},
      {false,
       {{"prompt", "x"}, {"n", 2}, {"temperature", 0}},
       400,
       "BadRequestError",
       "n",
       "n must be 1 when using greedy sampling"},
      {false,
       {{"prompt", "x"}, {"temperature", 2.5}},
       400,
       "BadRequestError",
       "temperature",
       "temperature must be in [0, 2]"},
      {false,
       {{"prompt", "x"}, {"temperature", -0.1}},
       400,
       "BadRequestError",
       "temperature",
       "non-negative"},
      {false,
       {{"prompt", "x"}, {"top_p", 0}},
       400,
       "BadRequestError",
       "top_p",
       "top_p must be in (0, 1]"},
      {false,
       {{"prompt", "x"}, {"top_k", -2}},
       400,
       "BadRequestError",
       "top_k",
       "top_k must be 0 (disable), or at least 1"},
      {false,
       {{"prompt", "x"}, {"top_k", 1.5}},
       400,
       "BadRequestError",
       "top_k",
       "top_k must be an integer"},
      {false,
       {{"prompt", "x"}, {"min_p", 1.5}},
       400,
       "BadRequestError",
       "min_p",
       "min_p must be in [0, 1]"},
      {false,
       {{"prompt", "x"}, {"presence_penalty", 3}},
       400,
       "BadRequestError",
       "presence_penalty",
       "presence_penalty must be in [-2, 2]"},
      {false,
       {{"prompt", "x"}, {"repetition_penalty", 0}},
       400,
       "BadRequestError",
       "repetition_penalty",
       "greater than zero"},
      {false,
       {{"prompt", "x"}, {"logprobs", 21}},
       400,
       "BadRequestError",
       "logprobs",
       "Requested sample logprobs of 21, which is greater than max allowed: 20"},
      {false,
       {{"prompt", "x"}, {"prompt_logprobs", 30}},
       400,
       "BadRequestError",
       "prompt_logprobs",
       "prompt logprobs of 30"},
      {false,
       {{"prompt", "x"}, {"stop", ""}},
       400,
       "BadRequestError",
       "stop",
       "stop cannot contain an empty string."},
      {false,
       {{"prompt", "x"}, {"stop_token_ids", {1, "a"}}},
       400,
       "BadRequestError",
       "stop_token_ids",
       "must contain only integers"},
      {false,
       {{"prompt", "x"}, {"stream_options", {{"include_usage", true}}}},
       400,
       "BadRequestError",
       "stream_options",
       "only be defined when `stream=True`"},
      {false,
       {{"prompt", {1, 2, 200000}}},
       400,
       "BadRequestError",
       "prompt",
       "Token id 200000 is out of vocabulary"},
      {false,
       {{"prompt", std::string(16000, 'x')}, {"max_tokens", 200}},
       400,
       "BadRequestError",
       "prompt",
       "maximum context length is 4096 tokens"},
      {false,
       {{"prompt", "x"}, {"max_tokens", "5"}},
       400,
       "BadRequestError",
       "max_tokens",
       "must be an integer"},
      {true, {{"messages", "hi"}}, 400, "BadRequestError", "messages", "a list of messages"},
      {true,
       {{"messages", json::array({{{"role", "user"}, {"content", "x"}}})}, {"top_logprobs", 2}},
       400,
       "BadRequestError",
       "top_logprobs",
       "`logprobs` must be set to true"},
      {true,
       {{"messages", json::array({{{"role", "user"}, {"content", "x"}}})},
        {"logprobs", true},
        {"top_logprobs", 25}},
       400,
       "BadRequestError",
       "top_logprobs",
       "greater than max allowed: 20"},
      {true,
       {{"messages", json::array({{{"role", "user"}, {"content", "x"}}})},
        {"max_completion_tokens", 0}},
       400,
       "BadRequestError",
       "max_completion_tokens",
       "at least 1"},
  };
  for (const auto& c : cases) {
    auto r = parse_vllm_request(c.body, c.chat, kLimits);
    ASSERT_TRUE(std::holds_alternative<VllmError>(r)) << c.body.dump();
    const auto& e = std::get<VllmError>(r);
    EXPECT_EQ(e.status, c.status) << c.body.dump();
    EXPECT_EQ(e.type, c.type) << c.body.dump();
    EXPECT_EQ(e.param, c.param) << c.body.dump();
    EXPECT_NE(e.message.find(c.message), std::string::npos) << e.message;
    json b = e.body();
    EXPECT_EQ(b["error"]["code"], c.status);  // vLLM's ErrorInfo.code is the HTTP status
    EXPECT_EQ(b["error"]["type"], c.type);
  }
}

TEST(VllmRequest, AcceptsWhatVllmAcceptsAndListsIgnoredFields) {
  json b = {{"model", "llama"},
            {"prompt", {1, 2, 3}},
            {"max_tokens", 8},
            {"min_tokens", 8},
            {"ignore_eos", true},
            {"stream", true},
            {"stream_options", {{"include_usage", true}, {"continuous_usage_stats", true}}},
            {"top_k", -1},
            {"my_own_field", 1}};
  auto r = parse_vllm_request(b, false, kLimits);
  ASSERT_TRUE(std::holds_alternative<VllmRequest>(r)) << std::get<VllmError>(r).message;
  const auto& q = std::get<VllmRequest>(r);
  EXPECT_EQ(q.prompt_tokens, 3u);
  EXPECT_EQ(q.max_tokens, 8u);
  EXPECT_EQ(q.min_tokens, 8u);
  EXPECT_TRUE(q.include_usage && q.continuous_usage);
  EXPECT_EQ(q.ignored_fields, std::vector<std::string>{"my_own_field"});
  json chat = {
      {"messages",
       json::array({{{"role", "user"},
                     {"content", json::array({{{"type", "text"}, {"text", "abcdefgh"}}})}}})},
      {"max_completion_tokens", 4},
      {"max_tokens", 100}};
  auto c = parse_vllm_request(chat, true, kLimits);
  ASSERT_TRUE(std::holds_alternative<VllmRequest>(c));
  EXPECT_EQ(std::get<VllmRequest>(c).max_tokens, 4u);  // max_completion_tokens wins
  EXPECT_EQ(std::get<VllmRequest>(c).prompt_tokens, 2u);
}

}  // namespace
}  // namespace hs::launcher
