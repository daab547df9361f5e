// Small, strict text helpers shared by the hand-written parsers (no std::regex anywhere).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "hs/common/error.h"

namespace hs {

// Removes leading and trailing spaces, tabs, CR and LF.
std::string_view trim(std::string_view s);
// Splits on `sep`, keeping empty fields ("a,,b" -> {"a","","b"}; "" -> {""}).
std::vector<std::string_view> split(std::string_view s, char sep);
// Splits on runs of spaces/tabs, dropping empty fields.
std::vector<std::string_view> split_whitespace(std::string_view s);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
// ASCII lower-case copy.
std::string to_lower(std::string_view s);
bool iequals(std::string_view a, std::string_view b);

// Whole-string decimal integer parsers: no sign for unsigned, no spaces, no trailing bytes,
// range-checked. Errors are InvalidArgument naming the text.
Result<uint64_t> parse_u64(std::string_view s);
Result<int64_t> parse_i64(std::string_view s);
// Hexadecimal, with or without a leading "0x".
Result<uint64_t> parse_hex_u64(std::string_view s);
// A finite or infinite double as strtod reads it ("1.5", "1e3", "+Inf", "NaN"); whole string.
Result<double> parse_double(std::string_view s);

// Natural order: digit runs compare as numbers, so "mlx5_2" < "mlx5_10" and "gpu9" < "gpu10".
bool natural_less(std::string_view a, std::string_view b);

// Quotes a value for an error message: "value", with control bytes escaped and long values
// cut to 60 bytes.
std::string quote(std::string_view value);

}  // namespace hs
