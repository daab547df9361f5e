// `ibnetdiscover` output (and ibsim's net files, which use its syntax) -> Fabric.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hs/common/error.h"
#include "hs/topo/fabric.h"

namespace hs::topo {

enum class IbNodeType { kSwitch, kCa, kRouter };

struct IbLink {
  uint32_t local_port = 0;
  std::string remote;  // the remote node's id, as quoted ("S-0008f1...", "H-78e7...")
  uint32_t remote_port = 0;
  std::string speed;  // "4xQDR" when the capture says, else ""
  size_t line = 0;
};

struct IbNode {
  IbNodeType type = IbNodeType::kCa;
  std::string id;           // the quoted id
  std::string description;  // the node description from the comment, if any
  uint32_t ports = 0;
  std::string guid;  // switchguid / caguid / rtguid as written ("0x8f10500200b50")
  std::vector<IbLink> links;
  size_t line = 0;
};

struct IbCapture {
  std::string name;
  std::vector<IbNode> nodes;  // in file order
};

// Parses the text. Errors (all at once, "name:line"): a line that is none of a node header,
// a port line, a key=value line, a comment or blank; a port line before any node; a port
// number above the node's count; a node defined twice; a link to an id with no record; and
// a file with no Switch or Ca record at all ("not ibnetdiscover output").
Result<IbCapture> parse_ibnetdiscover(const std::string& text, const std::string& name);

// A GUID/id -> host name map, one "KEY HOSTNAME" pair a line ('#' comments). KEY is a node id
// ("H-78e7d10300227744") or a GUID ("0x78e7d10300227744"). Errors name file:line.
Result<std::map<std::string, std::string>> parse_node_map(const std::string& text,
                                                          const std::string& name);

// The fabric of a capture: switches with channel adapters cabled to them are leaves
// (level 0); every other switch's level is its hop distance to the nearest leaf; a cable
// joins a parent (higher level) to a child, or two same-level peers. A CA is named by the
// map (its id, then its GUID), else by its id. Routers are ignored.
Result<Fabric> fabric_from_ibnetdiscover(const IbCapture& capture,
                                         const std::map<std::string, std::string>& node_map);

// Reads both files (the map is optional: empty path) and builds the fabric.
Result<Fabric> load_ibnetdiscover(const std::string& path, const std::string& node_map_path = {});

}  // namespace hs::topo
