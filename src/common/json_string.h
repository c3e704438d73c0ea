// A JSON string literal, as RFC 8259 requires and no more: '"', '\' and U+0000..U+001F are
// escaped, everything else (non-ASCII UTF-8 included) is copied as is. The caller vouches for
// valid UTF-8 where the reader needs it. Shared by the log lines and the hot frame encoder.
#ifndef IM_SRC_COMMON_JSON_STRING_H_
#define IM_SRC_COMMON_JSON_STRING_H_

#include <string>
#include <string_view>

namespace im {

inline void AppendJsonString(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  size_t copied = 0;  // s[copied, i) needs no escape and is not yet appended
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + copied, i - copied);
    copied = i + 1;
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[c >> 4];
        out += kHex[c & 0xF];
    }
  }
  out.append(s.data() + copied, s.size() - copied);
  out += '"';
}

}  // namespace im

#endif  // IM_SRC_COMMON_JSON_STRING_H_
