// The tag that marks a Slurm job array as one of heteroscale's pools, carried in the job's
// comment (the one free-text field every Slurm release stores per job and slurm_load_jobs
// returns). Its grammar is defined and parsed here only; the daemon, hs-launch and the docs
// use this code:
//
//   heteroscale/v1 service=NAME role=prefill|decode group=GROUP variant=VARIANT
//                  [drain=UNIX_S] [replace=UNIX_S]
//
// Fields are space-separated key=value pairs in any order; values are [A-Za-z0-9._-]+, 1..64
// characters. `drain` appears only on a running task's own record: the daemon writes it when
// it takes the task out of the router, so a restarted daemon finds drains in progress in
// Slurm itself. `replace` marks a task being replaced before it goes (time limit near, node
// drained or failing): a new task starts first, then this one drains.
//
// The tag shares the comment with the site's own text (accounting, a job_submit plugin's
// notes), kept byte for byte when the daemon rewrites the tag in place:
//   - bare: the tag runs from its first word to the end of the comment, site text may come
//     before it ("acct:42 heteroscale/v1 service=...");
//   - bracketed, where site text follows it: "[heteroscale/v1 service=... ] more site text".
// A comment without "heteroscale/" is not a tag (kNotFound); one with it that breaks the
// grammar, or that holds two tags, is InvalidArgument naming the field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hs/common/error.h"
#include "hs/common/role.h"

namespace hs {

struct JobTag {
  std::string service;
  Role role = Role::kDecode;  // prefill or decode (never kBoth for a pool)
  std::string group;
  std::string variant;
  std::optional<int64_t> drain_since_unix_s;
  std::optional<int64_t> replace_since_unix_s;

  std::string to_string() const;
  friend bool operator==(const JobTag&, const JobTag&) = default;
};

constexpr std::string_view kJobTagPrefix = "heteroscale/v1";

// Where the tag's own text sits in a comment: [begin, end) (inside the brackets if any).
struct JobTagSpan {
  size_t begin = 0, end = 0;
};

Result<JobTag> parse_job_tag(std::string_view comment, JobTagSpan* span = nullptr);

// `comment` with its tag replaced by `tag`, the site's text around it unchanged; a comment
// without a tag gets it appended (bracketed when the comment has text of its own).
std::string with_job_tag(std::string_view comment, const JobTag& tag);

// True when `comment` claims to hold a heteroscale tag (of any version).
bool looks_like_job_tag(std::string_view comment);

// A tag value must be [A-Za-z0-9._-]{1,64}.
bool valid_tag_value(std::string_view v);

}  // namespace hs
