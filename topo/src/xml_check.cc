#include "xml_check.h"

#include <vector>

#include "hs/common/text.h"

namespace hs::topo::detail {

namespace {
struct Open {
  std::string name;
  size_t line;
};
}  // namespace

Status check_xml(std::string_view xml, const std::string& name, std::string_view root_element) {
  auto at = [&](size_t line) { return name + ":" + std::to_string(line); };
  if (trim(xml).empty()) return invalid_argument("empty file, expected an hwloc XML export", name);
  size_t line = 1;
  std::vector<Open> stack;
  bool seen_root = false;
  size_t i = starts_with(xml, "\xEF\xBB\xBF") ? 3 : 0;  // UTF-8 byte order mark
  const size_t n = xml.size();
  auto advance_to = [&](size_t j) {
    for (; i < j && i < n; ++i)
      if (xml[i] == '\n') ++line;
  };
  while (i < n) {
    char c = xml[i];
    if (c != '<') {
      if (stack.empty() && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
        return invalid_argument(std::string(seen_root ? "text after the root element"
                                                      : "not XML: text before any element") +
                                    " (" + quote(xml.substr(i, 20)) + ")",
                                at(line));
      }
      if (c == '\n') ++line;
      ++i;
      continue;
    }
    size_t start_line = line;
    if (xml.substr(i, 4) == "<!--") {
      size_t e = xml.find("-->", i + 4);
      if (e == std::string_view::npos)
        return invalid_argument("file ends inside a comment opened at line " +
                                    std::to_string(start_line) + " (truncated?)",
                                at(line));
      advance_to(e + 3);
      continue;
    }
    if (xml.substr(i, 2) == "<?" || xml.substr(i, 2) == "<!") {
      size_t e = xml.find('>', i);
      if (e == std::string_view::npos)
        return invalid_argument("file ends inside a declaration (truncated?)", at(line));
      advance_to(e + 1);
      continue;
    }
    // An element tag: find its end, honouring quoted attribute values.
    bool closing = i + 1 < n && xml[i + 1] == '/';
    size_t j = i + (closing ? 2 : 1);
    size_t name_start = j;
    while (j < n && xml[j] != ' ' && xml[j] != '\t' && xml[j] != '\n' && xml[j] != '\r' &&
           xml[j] != '>' && xml[j] != '/')
      ++j;
    std::string tag(xml.substr(name_start, j - name_start));
    char quote_char = 0;
    size_t quote_line = line;
    size_t k = j;
    size_t line_at_k = line;
    for (size_t p = i; p < j; ++p)
      if (xml[p] == '\n') ++line_at_k;
    for (; k < n; ++k) {
      char d = xml[k];
      if (d == '\n') ++line_at_k;
      if (quote_char) {
        if (d == quote_char) quote_char = 0;
      } else if (d == '"' || d == '\'') {
        quote_char = d;
        quote_line = line_at_k;
      } else if (d == '>') {
        break;
      } else if (d == '<') {
        return invalid_argument(
            "'<' inside the <" + tag + "> tag opened at line " + std::to_string(start_line),
            at(line_at_k));
      }
    }
    if (k >= n) {
      if (quote_char)
        return invalid_argument("file ends inside an attribute value opened at line " +
                                    std::to_string(quote_line) + " (truncated?)",
                                at(line_at_k));
      return invalid_argument("file ends inside the <" + tag + "> tag opened at line " +
                                  std::to_string(start_line) + " (truncated?)",
                              at(line_at_k));
    }
    if (tag.empty()) return invalid_argument("tag without a name", at(start_line));
    bool self_closing = !closing && k > i && xml[k - 1] == '/';
    if (closing) {
      if (stack.empty())
        return invalid_argument("closing </" + tag + "> without an open element", at(start_line));
      if (stack.back().name != tag)
        return invalid_argument("closing </" + tag + "> does not match <" + stack.back().name +
                                    "> opened at line " + std::to_string(stack.back().line),
                                at(start_line));
      stack.pop_back();
    } else {
      if (stack.empty()) {
        if (seen_root)
          return invalid_argument("a second root element <" + tag + ">", at(start_line));
        seen_root = true;
        if (tag != root_element)
          return invalid_argument("root element is <" + tag + ">, expected <" +
                                      std::string(root_element) +
                                      "> (not an hwloc topology export?)",
                                  at(start_line));
      }
      if (!self_closing) stack.push_back({tag, start_line});
    }
    advance_to(k + 1);
  }
  if (!seen_root) return invalid_argument("no <" + std::string(root_element) + "> element", name);
  if (!stack.empty())
    return invalid_argument("file ends with <" + stack.back().name + "> opened at line " +
                                std::to_string(stack.back().line) + " still open (" +
                                std::to_string(stack.size()) + " element(s) unclosed; truncated?)",
                            at(line));
  return ok_status();
}

}  // namespace hs::topo::detail
