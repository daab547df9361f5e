#include "hs/topo/ibnetdiscover.h"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <set>
#include <unordered_map>

#include "hs/common/file.h"
#include "hs/common/text.h"

namespace hs::topo {

namespace {

// Reads `"text"` at s[i]; returns false if there is no quoted string there.
bool read_quoted(std::string_view s, size_t& i, std::string& out) {
  if (i >= s.size() || s[i] != '"') return false;
  size_t e = s.find('"', i + 1);
  if (e == std::string_view::npos) return false;
  out.assign(s.substr(i + 1, e - i - 1));
  i = e + 1;
  return true;
}

// Reads `[N]` at s[i].
bool read_port(std::string_view s, size_t& i, uint32_t& out) {
  if (i >= s.size() || s[i] != '[') return false;
  size_t e = s.find(']', i);
  if (e == std::string_view::npos) return false;
  auto v = parse_u64(s.substr(i + 1, e - i - 1));
  if (!v.ok() || *v > 65535) return false;
  out = static_cast<uint32_t>(*v);
  i = e + 1;
  return true;
}

// Skips an optional `(hexguid)`.
void skip_guid(std::string_view s, size_t& i) {
  if (i < s.size() && s[i] == '(') {
    size_t e = s.find(')', i);
    if (e != std::string_view::npos) i = e + 1;
  }
}

void skip_blank(std::string_view s, size_t& i) {
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
}

// The last "NxSPEED" token of a port line's comment ("4xQDR").
std::string speed_of(std::string_view comment) {
  auto toks = split_whitespace(comment);
  for (auto it = toks.rbegin(); it != toks.rend(); ++it) {
    auto x = it->find('x');
    if (x != std::string_view::npos && x > 0 && parse_u64(it->substr(0, x)).ok() &&
        x + 1 < it->size())
      return std::string(*it);
  }
  return "";
}

}  // namespace

Result<IbCapture> parse_ibnetdiscover(const std::string& text, const std::string& name) {
  IbCapture cap;
  cap.name = name;
  ErrorList errors;
  std::unordered_map<std::string, size_t> ids;
  size_t lineno = 0;
  IbNode* cur = nullptr;
  std::string pending_guid;
  std::string first_line;
  for (std::string_view raw : split(text, '\n')) {
    ++lineno;
    std::string_view l = trim(raw);
    auto where = name + ":" + std::to_string(lineno);
    if (first_line.empty() && !l.empty()) first_line = std::string(l.substr(0, 60));
    if (l.empty()) {
      cur = nullptr;  // a blank line ends a record
      continue;
    }
    if (l.front() == '#') continue;
    if (starts_with(l, "include ") || starts_with(l, "do ")) {
      errors.add(invalid_argument("ibsim extension " + quote(split_whitespace(l)[0]) +
                                      " is not supported: expand the file first",
                                  where));
      continue;
    }
    auto toks = split_whitespace(l);
    std::string_view head = toks.empty() ? std::string_view() : toks[0];
    if (head == "Switch" || head == "Ca" || head == "Hca" || head == "Rt") {
      IbNode node;
      node.type = head == "Switch" ? IbNodeType::kSwitch
                  : head == "Rt"   ? IbNodeType::kRouter
                                   : IbNodeType::kCa;
      node.line = lineno;
      size_t i = head.size();
      skip_blank(l, i);
      size_t j = i;
      while (j < l.size() && l[j] >= '0' && l[j] <= '9') ++j;
      auto ports = parse_u64(l.substr(i, j - i));
      i = j;
      skip_blank(l, i);
      if (!ports.ok() || *ports == 0 || *ports > 65535 || !read_quoted(l, i, node.id) ||
          node.id.empty()) {
        errors.add(invalid_argument("bad " + std::string(head) + " header: expected " +
                                        std::string(head) + " <ports> \"<id>\", got " + quote(l),
                                    where));
        cur = nullptr;
        continue;
      }
      node.ports = static_cast<uint32_t>(*ports);
      skip_blank(l, i);
      if (i < l.size() && l[i] == '#') {
        ++i;
        skip_blank(l, i);
        read_quoted(l, i, node.description);
      }
      node.guid = pending_guid;
      pending_guid.clear();
      if (auto it = ids.find(node.id); it != ids.end()) {
        errors.add(invalid_argument("node " + quote(node.id) + " is defined twice (first at line " +
                                        std::to_string(cap.nodes[it->second].line) + ")",
                                    where));
        cur = nullptr;
        continue;
      }
      ids.emplace(node.id, cap.nodes.size());
      cap.nodes.push_back(std::move(node));
      cur = &cap.nodes.back();
      continue;
    }
    if (l.front() == '[') {
      if (!cur) {
        errors.add(invalid_argument("port line outside a Switch/Ca record: " + quote(l), where));
        continue;
      }
      IbLink link;
      link.line = lineno;
      size_t i = 0;
      bool ok = read_port(l, i, link.local_port);
      skip_guid(l, i);
      skip_blank(l, i);
      ok = ok && read_quoted(l, i, link.remote) && !link.remote.empty() &&
           read_port(l, i, link.remote_port);
      if (!ok) {
        errors.add(invalid_argument(
            "bad port line: expected [port] \"remote-id\"[port], got " + quote(l), where));
        continue;
      }
      skip_guid(l, i);
      skip_blank(l, i);
      if (i < l.size() && l[i] != '#') {
        errors.add(
            invalid_argument("unexpected text after a port line: " + quote(l.substr(i)), where));
        continue;
      }
      if (i < l.size()) link.speed = speed_of(l.substr(i + 1));
      if (link.local_port == 0 || link.local_port > cur->ports) {
        errors.add(invalid_argument("port " + std::to_string(link.local_port) + " outside 1.." +
                                        std::to_string(cur->ports) + " of " + quote(cur->id),
                                    where));
        continue;
      }
      cur->links.push_back(std::move(link));
      continue;
    }
    auto eq = l.find('=');
    if (eq != std::string_view::npos && eq > 0 && l.find(' ') == std::string_view::npos) {
      std::string_view key = l.substr(0, eq);
      if (key == "vendid" || key == "devid" || key == "sysimgguid" || key == "switchguid" ||
          key == "caguid" || key == "rtguid") {
        if (key == "switchguid" || key == "caguid" || key == "rtguid") {
          std::string_view v = l.substr(eq + 1);
          pending_guid = std::string(v.substr(0, v.find('(')));
        }
        continue;
      }
      errors.add(invalid_argument("unknown key " + quote(key), where));
      continue;
    }
    errors.add(invalid_argument("unexpected line " + quote(l), where));
  }
  if (cap.nodes.empty()) {
    Error e =
        invalid_argument("not ibnetdiscover output: no Switch or Ca records" +
                             (first_line.empty() ? std::string(" (empty file)")
                                                 : " (first line: " + quote(first_line) + ")"),
                         name);
    if (errors.empty()) return e;
    errors.add(e);
  }
  for (const auto& node : cap.nodes) {
    for (const auto& link : node.links) {
      if (!ids.count(link.remote))
        errors.add(invalid_argument("port " + std::to_string(link.local_port) + " of " +
                                        quote(node.id) + " links to " + quote(link.remote) +
                                        ", which has no record",
                                    name + ":" + std::to_string(link.line)));
    }
  }
  if (!errors.empty())
    return errors.to_error(name + ": " + std::to_string(errors.size()) +
                           " errors in ibnetdiscover output");
  return cap;
}

Result<std::map<std::string, std::string>> parse_node_map(const std::string& text,
                                                          const std::string& name) {
  std::map<std::string, std::string> m;
  std::map<std::string, size_t> first;
  ErrorList errors;
  size_t lineno = 0;
  for (std::string_view raw : split(text, '\n')) {
    ++lineno;
    std::string_view l = trim(raw);
    if (auto h = l.find('#'); h != std::string_view::npos) l = trim(l.substr(0, h));
    if (l.empty()) continue;
    auto toks = split_whitespace(l);
    auto where = name + ":" + std::to_string(lineno);
    if (toks.size() != 2) {
      errors.add(invalid_argument("expected \"KEY HOSTNAME\", got " + quote(l), where));
      continue;
    }
    std::string key(toks[0]);
    if (auto it = first.find(key); it != first.end()) {
      errors.add(invalid_argument(
          "key " + quote(key) + " mapped twice (first at line " + std::to_string(it->second) + ")",
          where));
      continue;
    }
    first[key] = lineno;
    m[key] = std::string(toks[1]);
  }
  if (!errors.empty())
    return errors.to_error(name + ": " + std::to_string(errors.size()) + " errors in node map");
  return m;
}

Result<Fabric> fabric_from_ibnetdiscover(const IbCapture& cap,
                                         const std::map<std::string, std::string>& node_map) {
  std::unordered_map<std::string, const IbNode*> by_id;
  for (const auto& n : cap.nodes) by_id[n.id] = &n;
  auto host_name = [&](const IbNode& n) {
    if (auto it = node_map.find(n.id); it != node_map.end()) return it->second;
    if (!n.guid.empty()) {
      if (auto it = node_map.find(n.guid); it != node_map.end()) return it->second;
    }
    return n.id;
  };

  std::vector<const IbNode*> sw;
  std::unordered_map<std::string, uint32_t> sidx;
  for (const auto& n : cap.nodes) {
    if (n.type != IbNodeType::kSwitch) continue;
    sidx[n.id] = static_cast<uint32_t>(sw.size());
    sw.push_back(&n);
  }
  // Cables are listed from both ends; collect each switch's neighbours from either end.
  std::vector<std::set<uint32_t>> adj(sw.size());
  std::vector<std::set<std::string>> hosts(sw.size());
  for (const auto& n : cap.nodes) {
    for (const auto& link : n.links) {
      const IbNode* r = by_id.at(link.remote);
      if (n.type == IbNodeType::kSwitch && r->type == IbNodeType::kSwitch) {
        uint32_t a = sidx.at(n.id), b = sidx.at(r->id);
        if (a != b) {
          adj[a].insert(b);
          adj[b].insert(a);
        }
      } else if (n.type == IbNodeType::kSwitch && r->type == IbNodeType::kCa) {
        hosts[sidx.at(n.id)].insert(host_name(*r));
      } else if (n.type == IbNodeType::kCa && r->type == IbNodeType::kSwitch) {
        hosts[sidx.at(r->id)].insert(host_name(n));
      }
    }
  }
  // Levels: hop distance to the nearest switch with hosts (multi-source BFS).
  std::vector<int> level(sw.size(), -1);
  std::deque<uint32_t> q;
  for (uint32_t s = 0; s < sw.size(); ++s) {
    if (!hosts[s].empty()) {
      level[s] = 0;
      q.push_back(s);
    }
  }
  while (!q.empty()) {
    uint32_t s = q.front();
    q.pop_front();
    for (uint32_t t : adj[s]) {
      if (level[t] < 0) {
        level[t] = level[s] + 1;
        q.push_back(t);
      }
    }
  }
  std::vector<SwitchDecl> decls;
  for (uint32_t s = 0; s < sw.size(); ++s) {
    SwitchDecl d;
    d.name = sw[s]->id;
    d.where = cap.name + ":" + std::to_string(sw[s]->line);
    d.nodes.assign(hosts[s].begin(), hosts[s].end());
    int ls = std::max(level[s], 0);  // switches cut off from every host: level 0
    for (uint32_t t : adj[s]) {
      int lt = std::max(level[t], 0);
      if (ls > lt)
        d.switches.push_back(sw[t]->id);
      else if (ls == lt)
        d.peers.push_back(sw[t]->id);
    }
    decls.push_back(std::move(d));
  }
  return Fabric::build(std::move(decls), cap.name);
}

Result<Fabric> load_ibnetdiscover(const std::string& path, const std::string& node_map_path) {
  auto text = read_file(path, size_t{256} << 20);
  if (!text.ok()) return text.error();
  auto cap = parse_ibnetdiscover(*text, path);
  if (!cap.ok()) return cap.error();
  std::map<std::string, std::string> m;
  if (!node_map_path.empty()) {
    auto mt = read_file(node_map_path, size_t{64} << 20);
    if (!mt.ok()) return mt.error();
    auto parsed = parse_node_map(*mt, node_map_path);
    if (!parsed.ok()) return parsed.error();
    m = std::move(*parsed);
  }
  return fabric_from_ibnetdiscover(*cap, m);
}

}  // namespace hs::topo
