#include "hs/common/text.h"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

namespace hs {

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  for (;;) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

std::vector<std::string_view> split_whitespace(std::string_view s) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
    size_t j = i;
    while (j < s.size() && s[j] != ' ' && s[j] != '\t') ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool ends_with(std::string_view s, std::string_view x) {
  return s.size() >= x.size() && s.substr(s.size() - x.size()) == x;
}

std::string to_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && to_lower(a) == to_lower(b);
}

Result<uint64_t> parse_u64(std::string_view s) {
  if (s.empty()) return invalid_argument("expected a non-negative integer, got an empty value");
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return invalid_argument("expected a non-negative integer, got " + quote(s));
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) return invalid_argument("integer out of range: " + quote(s));
    v = v * 10 + d;
  }
  return v;
}

Result<int64_t> parse_i64(std::string_view s) {
  bool neg = !s.empty() && s.front() == '-';
  std::string_view digits = neg ? s.substr(1) : s;
  auto u = parse_u64(digits);
  if (!u.ok()) return invalid_argument("expected an integer, got " + quote(s));
  uint64_t limit = neg ? static_cast<uint64_t>(INT64_MAX) + 1 : static_cast<uint64_t>(INT64_MAX);
  if (*u > limit) return invalid_argument("integer out of range: " + quote(s));
  if (neg) return *u == limit ? INT64_MIN : -static_cast<int64_t>(*u);
  return static_cast<int64_t>(*u);
}

Result<uint64_t> parse_hex_u64(std::string_view s) {
  std::string_view h = s;
  if (starts_with(h, "0x") || starts_with(h, "0X")) h.remove_prefix(2);
  if (h.empty() || h.size() > 16)
    return invalid_argument("expected a hexadecimal number, got " + quote(s));
  uint64_t v = 0;
  for (char c : h) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return invalid_argument("expected a hexadecimal number, got " + quote(s));
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  return v;
}

Result<double> parse_double(std::string_view s) {
  if (s.empty()) return invalid_argument("expected a number, got an empty value");
  std::string buf(s);  // strtod needs a terminated string
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(buf.c_str(), &end);
  if (end != buf.c_str() + buf.size() || buf.front() == ' ')
    return invalid_argument("expected a number, got " + quote(s));
  if (errno == ERANGE && std::isfinite(v) && v != 0.0)
    return invalid_argument("number out of range: " + quote(s));
  return v;
}

bool natural_less(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && a[i2] == '0') ++i2;
      while (j2 < b.size() && b[j2] == '0') ++j2;
      size_t ie = i2, je = j2;
      while (ie < a.size() && digit(a[ie])) ++ie;
      while (je < b.size() && digit(b[je])) ++je;
      if (ie - i2 != je - j2) return ie - i2 < je - j2;
      int c = a.substr(i2, ie - i2).compare(b.substr(j2, je - j2));
      if (c != 0) return c < 0;
      if (ie - i != je - j) return ie - i < je - j;  // fewer leading zeros first
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::string quote(std::string_view value) {
  std::string out = "\"";
  size_t n = 0;
  for (char c : value) {
    if (++n > 60) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\x%02x", u);
      out += esc;
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace hs
