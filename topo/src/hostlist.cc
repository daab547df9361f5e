#include "hs/topo/hostlist.h"

#include <algorithm>
#include <cstdint>
#include <map>
#include <tuple>

#include "hs/common/text.h"

namespace hs::topo {

namespace {

bool host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// One bracket's contents ("001-016,020") into zero-padded strings.
Result<std::vector<std::string>> expand_bracket(std::string_view body, std::string_view expr,
                                                size_t max_hosts) {
  std::vector<std::string> out;
  if (body.empty()) return invalid_argument("empty brackets in hostlist " + quote(expr));
  for (std::string_view r : split(body, ',')) {
    if (r.empty()) return invalid_argument("empty range in hostlist " + quote(expr));
    size_t dash = r.find('-');
    std::string_view lo_s = dash == std::string_view::npos ? r : r.substr(0, dash);
    std::string_view hi_s = dash == std::string_view::npos ? r : r.substr(dash + 1);
    auto lo = parse_u64(lo_s);
    auto hi = parse_u64(hi_s);
    if (!lo.ok() || !hi.ok() || lo_s.size() > 18 || hi_s.size() > 18)
      return invalid_argument("bad range " + quote(r) + " in hostlist " + quote(expr) +
                              " (expected numbers like 1-16 or 001-016)");
    if (*lo > *hi)
      return invalid_argument("descending range " + quote(r) + " in hostlist " + quote(expr));
    if (*hi - *lo >= max_hosts)
      return invalid_argument("range " + quote(r) + " in hostlist " + quote(expr) +
                              " names more than " + std::to_string(max_hosts) + " hosts");
    size_t width = lo_s.size();
    for (uint64_t v = *lo; v <= *hi; ++v) {
      std::string s = std::to_string(v);
      if (s.size() < width) s.insert(0, width - s.size(), '0');
      out.push_back(std::move(s));
      if (out.size() > max_hosts)
        return invalid_argument("hostlist " + quote(expr) + " names more than " +
                                std::to_string(max_hosts) + " hosts");
    }
  }
  return out;
}

}  // namespace

Result<std::vector<std::string>> expand_hostlist(std::string_view expr, size_t max_hosts) {
  std::vector<std::string> out;
  if (expr.empty()) return invalid_argument("empty hostlist");
  // Split on commas outside brackets.
  std::vector<std::string_view> items;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < expr.size(); ++i) {
    char c = expr[i];
    if (c == '[') {
      if (depth > 0) return invalid_argument("nested '[' in hostlist " + quote(expr));
      ++depth;
    } else if (c == ']') {
      if (depth == 0) return invalid_argument("']' without '[' in hostlist " + quote(expr));
      --depth;
    } else if (c == ',' && depth == 0) {
      items.push_back(expr.substr(start, i - start));
      start = i + 1;
    } else if (depth == 0 && !host_char(c)) {
      return invalid_argument("character " + quote(std::string_view(&expr[i], 1)) +
                              " is not allowed in a host name, in hostlist " + quote(expr));
    }
  }
  if (depth != 0) return invalid_argument("'[' without ']' in hostlist " + quote(expr));
  items.push_back(expr.substr(start));

  for (std::string_view item : items) {
    if (item.empty()) return invalid_argument("empty name in hostlist " + quote(expr));
    std::vector<std::string> partial{""};
    size_t i = 0;
    while (i < item.size()) {
      if (item[i] == '[') {
        size_t e = item.find(']', i);
        auto parts = expand_bracket(item.substr(i + 1, e - i - 1), expr, max_hosts);
        if (!parts.ok()) return parts.error();
        if (partial.size() * parts->size() > max_hosts)
          return invalid_argument("hostlist " + quote(expr) + " names more than " +
                                  std::to_string(max_hosts) + " hosts");
        std::vector<std::string> next;
        next.reserve(partial.size() * parts->size());
        for (const auto& p : partial)
          for (const auto& s : *parts) next.push_back(p + s);
        partial = std::move(next);
        i = e + 1;
      } else {
        size_t e = item.find('[', i);
        if (e == std::string_view::npos) e = item.size();
        for (auto& p : partial) p.append(item.substr(i, e - i));
        i = e;
      }
    }
    for (auto& p : partial) out.push_back(std::move(p));
    if (out.size() > max_hosts)
      return invalid_argument("hostlist " + quote(expr) + " names more than " +
                              std::to_string(max_hosts) + " hosts");
  }
  return out;
}

std::string compress_hostlist(std::vector<std::string> names) {
  std::sort(names.begin(), names.end(),
            [](const std::string& a, const std::string& b) { return natural_less(a, b); });
  names.erase(std::unique(names.begin(), names.end()), names.end());
  // Group by (prefix, padded width or 0 for unpadded numbers), keeping first-seen order.
  struct Group {
    std::string prefix;
    size_t width;  // 0: numbers without leading zeros
    std::vector<uint64_t> numbers;
  };
  std::vector<Group> groups;
  std::vector<std::string> singles_in_order;
  std::vector<std::pair<int, size_t>> order;  // (0=single index,1=group index)
  std::map<std::pair<std::string, size_t>, size_t> index;
  for (const auto& n : names) {
    size_t d = n.size();
    while (d > 0 && n[d - 1] >= '0' && n[d - 1] <= '9') --d;
    size_t digits = n.size() - d;
    // Long digit tails are GUIDs ("H-003048c749450000"), not node numbers: keep them whole.
    if (digits == 0 || digits > 6) {
      order.push_back({0, singles_in_order.size()});
      singles_in_order.push_back(n);
      continue;
    }
    size_t width = (n[d] == '0' && digits > 1) ? digits : 0;
    auto key = std::make_pair(n.substr(0, d), width);
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, groups.size()).first;
      groups.push_back(Group{key.first, width, {}});
      order.push_back({1, it->second});
    }
    groups[it->second].numbers.push_back(*parse_u64(std::string_view(n).substr(d)));
  }
  auto pad = [](uint64_t v, size_t width) {
    std::string s = std::to_string(v);
    if (s.size() < width) s.insert(0, width - s.size(), '0');
    return s;
  };
  std::string out;
  for (auto [kind, i] : order) {
    if (!out.empty()) out += ',';
    if (kind == 0) {
      out += singles_in_order[i];
      continue;
    }
    Group& g = groups[i];
    std::sort(g.numbers.begin(), g.numbers.end());
    if (g.numbers.size() == 1) {
      out += g.prefix + pad(g.numbers[0], g.width);
      continue;
    }
    out += g.prefix + "[";
    for (size_t a = 0; a < g.numbers.size();) {
      size_t b = a;
      while (b + 1 < g.numbers.size() && g.numbers[b + 1] == g.numbers[b] + 1) ++b;
      if (a > 0) out += ',';
      out += pad(g.numbers[a], g.width);
      if (b > a) out += "-" + pad(g.numbers[b], g.width);
      a = b + 1;
    }
    out += "]";
  }
  return out;
}

}  // namespace hs::topo
