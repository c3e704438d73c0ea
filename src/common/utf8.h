// Text validation for user-supplied strings (names, message bodies, JSON we decode).
#ifndef IM_SRC_COMMON_UTF8_H_
#define IM_SRC_COMMON_UTF8_H_

#include <string>
#include <string_view>

namespace im {

// Well-formed UTF-8 per Unicode Table 3-7: rejects overlong forms, surrogates (U+D800..DFFF),
// code points above U+10FFFF, stray continuation bytes and truncated sequences.
bool IsValidUtf8(std::string_view s);

// `s` with every byte that starts no well-formed sequence (by IsValidUtf8's rules) replaced by
// U+FFFD: for text that echoes client bytes into JSON, which must be UTF-8.
std::string ToValidUtf8(std::string_view s);

// Only bytes 0x20..0x7E (no controls, no DEL, no non-ASCII); true for the empty string.
bool IsPrintableAscii(std::string_view s);

}  // namespace im

#endif  // IM_SRC_COMMON_UTF8_H_
