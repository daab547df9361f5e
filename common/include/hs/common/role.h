// An engine's role in prefill/decode-disaggregated serving, as the plugin, the launcher, the
// router and the scaler all name it.
#pragma once

#include <string_view>

#include "hs/common/error.h"

namespace hs {

enum class Role { kPrefill, kDecode, kBoth };

std::string_view to_string(Role r);              // "prefill", "decode", "both"
Result<Role> parse_role(std::string_view text);  // exact inverse; anything else is InvalidArgument

}  // namespace hs
