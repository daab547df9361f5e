#include "hs/common/job_tag.h"

#include <set>

#include "hs/common/text.h"

namespace hs {

bool valid_tag_value(std::string_view v) {
  if (v.empty() || v.size() > 64) return false;
  for (char c : v) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {

constexpr std::string_view kMarker = "heteroscale/";

// Offset of the tag's first word ("heteroscale/..." at the start of a word or after '[').
size_t find_marker(std::string_view c, size_t from) {
  for (size_t p = c.find(kMarker, from); p != std::string_view::npos; p = c.find(kMarker, p + 1))
    if (p == 0 || c[p - 1] == ' ' || c[p - 1] == '\t' || c[p - 1] == '[') return p;
  return std::string_view::npos;
}

}  // namespace

bool looks_like_job_tag(std::string_view comment) {
  return find_marker(comment, 0) != std::string_view::npos;
}

std::string JobTag::to_string() const {
  std::string s(kJobTagPrefix);
  s += " service=" + service + " role=" + std::string(hs::to_string(role)) + " group=" + group +
       " variant=" + variant;
  if (drain_since_unix_s) s += " drain=" + std::to_string(*drain_since_unix_s);
  if (replace_since_unix_s) s += " replace=" + std::to_string(*replace_since_unix_s);
  return s;
}

Result<JobTag> parse_job_tag(std::string_view comment, JobTagSpan* span) {
  size_t begin = find_marker(comment, 0);
  if (begin == std::string_view::npos) return not_found("not a heteroscale tag");
  size_t end = comment.size();
  if (begin > 0 && comment[begin - 1] == '[') {
    end = comment.find(']', begin);
    if (end == std::string_view::npos) return invalid_argument("tag: '[' without its closing ']'");
  }
  if (find_marker(comment, end) != std::string_view::npos ||
      find_marker(comment.substr(0, end), begin + 1) != std::string_view::npos)
    return invalid_argument("tag: the comment holds two heteroscale tags");
  if (span) *span = {begin, end};
  auto words = split_whitespace(comment.substr(begin, end - begin));
  if (words[0] != kJobTagPrefix)
    return invalid_argument("unsupported tag version " + quote(words[0]) + " (this build reads " +
                            std::string(kJobTagPrefix) + ")");
  JobTag t;
  std::set<std::string> seen;
  for (size_t i = 1; i < words.size(); ++i) {
    auto eq = words[i].find('=');
    if (eq == std::string_view::npos)
      return invalid_argument("expected key=value, got " + quote(words[i]));
    std::string key(words[i].substr(0, eq));
    std::string_view val = words[i].substr(eq + 1);
    if (!seen.insert(key).second) return invalid_argument(key + ": given twice");
    if (!valid_tag_value(val))
      return invalid_argument(key + ": expected [A-Za-z0-9._-]{1,64}, got " + quote(val));
    if (key == "service") {
      t.service = val;
    } else if (key == "group") {
      t.group = val;
    } else if (key == "variant") {
      t.variant = val;
    } else if (key == "role") {
      auto r = parse_role(val);
      if (!r.ok() || *r == Role::kBoth)
        return invalid_argument("role: expected prefill or decode, got " + quote(val));
      t.role = *r;
    } else if (key == "drain" || key == "replace") {
      auto v = parse_i64(val);
      if (!v.ok() || *v < 0)
        return invalid_argument(key + ": expected Unix seconds, got " + quote(val));
      (key == "drain" ? t.drain_since_unix_s : t.replace_since_unix_s) = *v;
    } else {
      return invalid_argument(key + ": unknown field");
    }
  }
  for (const char* k : {"service", "role", "group", "variant"})
    if (!seen.count(k)) return invalid_argument(std::string(k) + ": required");
  return t;
}

std::string with_job_tag(std::string_view comment, const JobTag& tag) {
  JobTagSpan span;
  (void)parse_job_tag(comment, &span);  // the span is set once the tag is found, valid or not
  if (span.end > span.begin) {
    std::string out(comment.substr(0, span.begin));
    out += tag.to_string();
    out += comment.substr(span.end);
    return out;
  }
  if (trim(comment).empty()) return tag.to_string();
  return std::string(comment) + " [" + tag.to_string() + "]";
}

}  // namespace hs
