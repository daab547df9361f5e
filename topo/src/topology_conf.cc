#include "hs/topo/topology_conf.h"

#include "hs/common/file.h"
#include "hs/common/text.h"
#include "hs/topo/hostlist.h"

namespace hs::topo {

namespace {
struct LogicalLine {
  std::string text;
  size_t line;                 // first physical line
  std::vector<size_t> starts;  // offset in text where each physical line starts
};

std::vector<LogicalLine> logical_lines(const std::string& text) {
  std::vector<LogicalLine> out;
  LogicalLine cur{"", 1, {0}};
  bool continuing = false;
  size_t lineno = 0;
  for (std::string_view raw : split(text, '\n')) {
    ++lineno;
    std::string s(raw);
    if (!s.empty() && s.back() == '\r') s.pop_back();
    // '#' starts a comment (Slurm allows "\#" for a literal, which no valid key needs).
    if (auto h = s.find('#'); h != std::string::npos) s.erase(h);
    bool cont = !s.empty() && s.back() == '\\';
    if (cont) s.pop_back();
    if (!continuing) cur = LogicalLine{"", lineno, {}};
    cur.starts.push_back(cur.text.size());
    cur.text += s;
    if (cont) {
      cur.text += ' ';
      continuing = true;
      continue;
    }
    continuing = false;
    out.push_back(cur);
  }
  if (continuing) out.push_back(cur);
  return out;
}
}  // namespace

Result<std::vector<SwitchDecl>> parse_topology_conf(const std::string& text,
                                                    const std::string& name) {
  std::vector<SwitchDecl> decls;
  ErrorList errors;
  for (const LogicalLine& ll : logical_lines(text)) {
    if (trim(ll.text).empty()) continue;
    auto where = [&](size_t offset) {
      size_t k = 0;
      while (k + 1 < ll.starts.size() && ll.starts[k + 1] <= offset) ++k;
      return name + ":" + std::to_string(ll.line + k) + ":" +
             std::to_string(offset - ll.starts[k] + 1);
    };
    SwitchDecl d;
    d.where = name + ":" + std::to_string(ll.line);
    bool have[4] = {false, false, false, false};
    bool first = true;
    bool line_ok = true;
    // Tokens separated by blanks; remember each token's offset for columns.
    size_t i = 0;
    const std::string& t = ll.text;
    while (i < t.size()) {
      while (i < t.size() && (t[i] == ' ' || t[i] == '\t')) ++i;
      if (i >= t.size()) break;
      size_t start = i;
      while (i < t.size() && t[i] != ' ' && t[i] != '\t') ++i;
      std::string_view tok(t.data() + start, i - start);
      size_t eq = tok.find('=');
      if (eq == std::string_view::npos) {
        errors.add(invalid_argument("expected Key=Value, got " + quote(tok), where(start)));
        line_ok = false;
        continue;
      }
      std::string key = to_lower(tok.substr(0, eq));
      std::string_view value = tok.substr(eq + 1);
      std::string key_as_written(tok.substr(0, eq));
      int k = key == "switchname"  ? 0
              : key == "switches"  ? 1
              : key == "nodes"     ? 2
              : key == "linkspeed" ? 3
                                   : -1;
      if (first && k != 0) {
        std::string msg =
            key == "blockname" || key == "blocksizes"
                ? key_as_written +
                      " belongs to the topology/block plugin; heteroscale reads topology/tree files"
                : "a line must start with SwitchName=, got " + quote(key_as_written);
        errors.add(invalid_argument(msg, where(start)));
        line_ok = false;
        break;
      }
      first = false;
      if (k < 0) {
        errors.add(
            invalid_argument("unknown key " + quote(key_as_written) +
                                 " (topology.conf keys are SwitchName, Switches, Nodes, LinkSpeed)",
                             where(start)));
        line_ok = false;
        continue;
      }
      if (have[k]) {
        errors.add(invalid_argument(key_as_written + " given twice on one line", where(start)));
        line_ok = false;
        continue;
      }
      have[k] = true;
      size_t vcol = start + eq + 1;
      if (value.empty()) {
        errors.add(invalid_argument(key_as_written + " has an empty value", where(vcol)));
        line_ok = false;
        continue;
      }
      if (k == 0) {
        auto names = expand_hostlist(value);
        if (!names.ok() || names->size() != 1) {
          errors.add(
              invalid_argument("SwitchName must be one name, got " + quote(value), where(vcol)));
          line_ok = false;
        } else {
          d.name = names->front();
        }
      } else if (k == 1 || k == 2) {
        auto names = expand_hostlist(value);
        if (!names.ok()) {
          errors.add(invalid_argument(key_as_written + ": " + names.error().message, where(vcol)));
          line_ok = false;
        } else {
          (k == 1 ? d.switches : d.nodes) = std::move(*names);
        }
      } else {
        d.link_speed = std::string(value);
        if (!parse_u64(value).ok()) {
          errors.add(invalid_argument("LinkSpeed must be a whole number, got " + quote(value),
                                      where(vcol)));
          line_ok = false;
        }
      }
    }
    if (line_ok) decls.push_back(std::move(d));
  }
  if (!errors.empty())
    return errors.to_error(name + ": " + std::to_string(errors.size()) +
                           " errors in topology.conf");
  return decls;
}

Result<Fabric> load_topology_conf(const std::string& path) {
  auto text = read_file(path, size_t{64} << 20);
  if (!text.ok()) return text.error();
  auto decls = parse_topology_conf(*text, path);
  if (!decls.ok()) return decls.error();
  if (decls->empty())
    return invalid_argument("no SwitchName lines: not a topology.conf for topology/tree", path);
  return Fabric::build(std::move(*decls), path);
}

std::string emit_topology_conf(const Fabric& fabric, const std::string& header_comment) {
  std::string out = "# topology.conf for Slurm's topology/tree plugin, written by hs-topo\n";
  if (!header_comment.empty()) {
    for (std::string_view l : split(header_comment, '\n')) out += "# " + std::string(l) + "\n";
  }
  for (const auto& s : fabric.switches()) {
    out += "SwitchName=" + s.name;
    if (!s.children.empty()) out += " Switches=" + compress_hostlist(s.children);
    if (!s.nodes.empty()) out += " Nodes=" + compress_hostlist(s.nodes);
    if (!s.link_speed.empty()) out += " LinkSpeed=" + s.link_speed;
    out += "\n";
  }
  for (const auto& s : fabric.switches()) {
    for (const auto& p : s.peers) {
      if (natural_less(s.name, p))
        out += "# same-level link (not expressible here): " + s.name + " <-> " + p + "\n";
    }
  }
  return out;
}

}  // namespace hs::topo
