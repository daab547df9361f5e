#include "hs/common/role.h"

#include <string>

#include "hs/common/text.h"

namespace hs {

std::string_view to_string(Role r) {
  switch (r) {
    case Role::kPrefill:
      return "prefill";
    case Role::kDecode:
      return "decode";
    case Role::kBoth:
      return "both";
  }
  return "both";
}

Result<Role> parse_role(std::string_view s) {
  for (Role r : {Role::kPrefill, Role::kDecode, Role::kBoth})
    if (s == to_string(r)) return r;
  return invalid_argument("expected prefill, decode or both, got " + quote(s));
}

}  // namespace hs
