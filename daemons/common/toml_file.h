// TOML configuration files, shared by imd's configuration and the split daemons' Settings: the
// file's bytes, then the text parsed into a toml::table, each with an error that names the file
// ("<path>:<line>: <what>"). Loading goes through the text, so a caller can load a configuration
// without a file (the fuzz target in tests/fuzz does).
#ifndef IM_DAEMONS_COMMON_TOML_FILE_H_
#define IM_DAEMONS_COMMON_TOML_FILE_H_

#include <toml++/toml.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>

#include "im/status.h"

namespace im::daemon {

inline Result<std::string> ReadTomlFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return Status::InvalidArgument(path + ": is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::InvalidArgument(path + ": cannot be opened: " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return Status::InvalidArgument(path + ": cannot be read: " + std::strerror(errno));
  return text;
}

namespace detail {

// toml++ 3.3.0 (Debian 12) asks is_non_ascii_horizontal_whitespace() whether a character is
// whitespace, and for the code points below that function reaches __builtin_unreachable():
// undefined behaviour (upstream marzer/tomlplusplus#190 and #295, fixed after 3.3.0), found by
// tests/fuzz/toml_config_fuzz.cc with the two bytes "\xcf\xa4" (U+03E4).
inline bool TripsToml33(char32_t c) {
  return (c >= 0xA1 && c <= 0x499) || (c >= 0x2CFE && c <= 0x30F7 && c != 0x3000) || (c >= 0xFB26 && c <= 0xFEFE);
}

// The line of the first such code point that is not in a comment, or 0. toml++ asks about
// characters outside strings, after a backslash in a multi-line basic string, and, in malformed
// text, inside what looks like a string to anyone else (a value that does not end scans on through
// quotes), so only comments are safe. Other non-ASCII text, such as CJK ideographs or emoji, is
// not affected.
inline int LineOfUnsafeCodePoint(std::string_view text) {
  enum class In { kCode, kComment, kBasic, kLiteral, kMultiBasic, kMultiLiteral } in = In::kCode;
  int line = 1;
  const auto at = [&](size_t i, std::string_view s) { return text.substr(i, s.size()) == s; };
  // A multi-line string may end with one or two quotes of its own before its closing three.
  const auto closing_quotes = [&](size_t i, char quote) {
    size_t n = 0;
    while (n < 5 && i + n < text.size() && text[i + n] == quote) ++n;
    return n;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\n') ++line;
    if (static_cast<unsigned char>(c) >= 0x80 && in != In::kComment) {
      // Decode leniently: toml++ refuses malformed UTF-8 where it meets it.
      const auto lead = static_cast<unsigned char>(c);
      const size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
      char32_t cp = lead & (0x7F >> len);
      for (size_t k = 1; k < len && i + k < text.size(); ++k) cp = (cp << 6) | (text[i + k] & 0x3F);
      if (TripsToml33(cp)) return line;
      i += len - 1;
      continue;
    }
    switch (in) {
      case In::kCode:
        if (c == '#') {
          in = In::kComment;
        } else if (at(i, R"(""")")) {
          in = In::kMultiBasic;
          i += 2;
        } else if (at(i, "'''")) {
          in = In::kMultiLiteral;
          i += 2;
        } else if (c == '"') {
          in = In::kBasic;
        } else if (c == '\'') {
          in = In::kLiteral;
        }
        break;
      case In::kComment:
        if (c == '\n') in = In::kCode;
        break;
      case In::kBasic:
        if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
          ++i;  // an escaped quote does not end the string
        } else if (c == '"' || c == '\n') {
          in = In::kCode;
        }
        break;
      case In::kLiteral:
        if (c == '\'' || c == '\n') in = In::kCode;
        break;
      case In::kMultiBasic:
        if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') {
          ++i;
        } else if (at(i, R"(""")")) {
          in = In::kCode;
          i += closing_quotes(i, '"') - 1;
        }
        break;
      case In::kMultiLiteral:
        if (at(i, "'''")) {
          in = In::kCode;
          i += closing_quotes(i, '\'') - 1;
        }
        break;
    }
  }
  return 0;
}

}  // namespace detail

// invalid_argument "<source>:<line>: <what>" for text that is not TOML, or that toml++ 3.3.0
// cannot parse safely (detail::LineOfUnsafeCodePoint).
inline Result<toml::table> ParseTomlText(std::string_view text, const std::string& source) {
  if (int line = detail::LineOfUnsafeCodePoint(text)) {
    return Status::InvalidArgument(source + ":" + std::to_string(line) +
                                   ": characters U+00A1-U+0499, U+2CFE-U+30F7 and U+FB26-U+FEFE are allowed only in "
                                   "comments (toml++ 3.3 cannot parse them safely)");
  }
  try {
    return toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    return Status::InvalidArgument(source + ":" + std::to_string(e.source().begin.line) + ": " +
                                   std::string(e.description()));
  }
}

}  // namespace im::daemon

#endif  // IM_DAEMONS_COMMON_TOML_FILE_H_
