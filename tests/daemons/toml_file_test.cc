// TOML text for the daemons' configuration (daemons/common/toml_file.h): what toml++ 3.3.0 cannot
// parse safely is refused before it sees it (the fuzz target toml_config found undefined
// behaviour there), and everything else parses as before.
#include "common/toml_file.h"

#include <doctest/doctest.h>

#include "common/settings.h"

using im::daemon::ParseTomlText;

namespace {

std::string ErrorOf(std::string_view text) {
  auto t = ParseTomlText(text, "f.toml");
  return t.ok() ? "parsed" : std::string(t.status().message());
}

const std::string kRefused =
    ": characters U+00A1-U+0499, U+2CFE-U+30F7 and U+FB26-U+FEFE are allowed only in comments (toml++ 3.3 cannot "
    "parse them safely)";

}  // namespace

TEST_CASE("a character that toml++ 3.3 cannot classify as whitespace safely is refused outside comments, with its line") {
  // tests/fuzz/corpus/toml_config/ubsan-*: U+03E4 as the whole file; after a line-ending backslash
  // (tomlplusplus#190); inside quotes that an unterminated value scans through.
  CHECK(ErrorOf("\xcf\xa4") == "f.toml:1" + kRefused);
  CHECK(ErrorOf("s = \"\"\"\\\n\xc2\xa7\"\"\"\n") == "f.toml:2" + kRefused);
  CHECK(ErrorOf("a = [1\x01x\"\"\"4\xc5\xbf\"\"\"\n") == "f.toml:1" + kRefused);
  CHECK(ErrorOf("a = 1\n\xe3\x80\x81 b = 2\n") == "f.toml:2" + kRefused);   // U+3001
  CHECK(ErrorOf("web_root = \"/srv/caf\xc3\xa9\"\n") == "f.toml:1" + kRefused);  // U+00E9, in a string too
  CHECK(ErrorOf("k = '\xef\xbb\xbe'\n") == "f.toml:1" + kRefused);                // U+FEFE
  // A string that ends with its own quotes does not make a comment of what follows it.
  CHECK(ErrorOf("s = \"\"\"a\"\"\"\"#\n\xc2\xa7\n") == "f.toml:2" + kRefused);
}

TEST_CASE("other non-ASCII text, and any in comments, still parses") {
  auto t = ParseTomlText(
      "\xEF\xBB\xBF# caf\xc3\xa9 \xc2\xa7 \xcf\xa4\n"            // a byte order mark, then a comment
      "a = \"\xe4\xb8\xad\xe6\x96\x87 \\\" \xf0\x9f\x98\x80\"\n"  // CJK, an escaped quote, an emoji
      "b = '\xe0\xa4\x85'  # \xc3\xa9 after a value\n"           // Devanagari
      "c = \"\"\"\n\xe4\xb8\xad \\\n  x\"\"\"\"\n"               // a line-ending backslash, a closing quote
      "\"k\xe4\xb8\xad\" = 1\n",
      "f.toml");
  REQUIRE_MESSAGE(t.ok(), t.status().ToString());
  CHECK((*t)["a"].value<std::string>() == "\xe4\xb8\xad\xe6\x96\x87 \" \xf0\x9f\x98\x80");
  CHECK((*t)["b"].value<std::string>() == "\xe0\xa4\x85");
  CHECK((*t)["c"].value<std::string>() == "\xe4\xb8\xad x\"");
  CHECK((*t)["k\xe4\xb8\xad"].value<int64_t>() == 1);
}

TEST_CASE("Settings refuses such a text naming its source") {
  std::string listen = "127.0.0.1:1";
  im::daemon::Settings s("test", "IM_TEST");
  s.Address("listen", &listen, "address");
  im::Status st = s.ApplyTomlText("listen = \"10.0.0.1:5\"\xcf\xa4\n", "im-logic.toml");
  CHECK(st.code() == im::StatusCode::kInvalidArgument);
  CHECK(st.message() == "im-logic.toml:1" + kRefused);
  CHECK(s.ApplyTomlText("listen = \"10.0.0.1:5\" # \xcf\xa4\n", "im-logic.toml").ok());
  CHECK(listen == "10.0.0.1:5");
}
