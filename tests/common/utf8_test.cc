#include <doctest/doctest.h>

#include <string>

#include "common/utf8.h"

namespace im {
namespace {

TEST_CASE("utf8: accepts well-formed text") {
  for (std::string_view ok : {
           "", "a", "hello, world", "0123456789abcdefghijklmnopqrstuvwxyz",  // ASCII fast path
           "\xC2\x80",                                                       // U+0080, smallest 2-byte
           "\xDF\xBF",                                                       // U+07FF
           "\xE0\xA0\x80",                                                   // U+0800, smallest 3-byte
           "\xED\x9F\xBF",                                                   // U+D7FF, just below surrogates
           "\xEE\x80\x80",                                                   // U+E000, just above
           "\xEF\xBF\xBF",                                                   // U+FFFF
           "\xF0\x90\x80\x80",                                               // U+10000, smallest 4-byte
           "\xF4\x8F\xBF\xBF",                                               // U+10FFFF, the maximum
           "\xF0\x9F\x98\x80",                                               // 😀
           "caf\xC3\xA9 na\xC3\xAFve \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80!",
           "12345678\xF0\x9F\x98\x80"
           "12345678",  // multibyte between 8-byte ASCII runs
       }) {
    CAPTURE(ok);
    CHECK(IsValidUtf8(ok));
  }
  CHECK(IsValidUtf8(std::string_view("a\0b", 3)));  // NUL is valid UTF-8
}

TEST_CASE("utf8: rejects ill-formed text") {
  for (std::string_view bad : {
           "\x80",                      // lone continuation
           "\xBF",                      //
           "\xC0\xAF",                  // overlong '/'
           "\xC1\xBF",                  // overlong
           "\xE0\x80\xAF",              // overlong 3-byte
           "\xE0\x9F\xBF",              // overlong U+07FF
           "\xF0\x80\x80\xAF",          // overlong 4-byte
           "\xF0\x8F\xBF\xBF",          // overlong U+FFFF
           "\xED\xA0\x80",              // U+D800 surrogate
           "\xED\xBF\xBF",              // U+DFFF surrogate
           "\xED\xA0\x80\xED\xB0\x80",  // CESU-8 surrogate pair
           "\xF4\x90\x80\x80",          // U+110000
           "\xF5\x80\x80\x80",          // lead byte beyond range
           "\xFE",
           "\xFF",              //
           "\xC3",              // truncated 2-byte
           "\xE4\xB8",          // truncated 3-byte
           "\xF0\x9F\x98",      // truncated 4-byte
           "\xC3\x28",          // bad continuation
           "\xE4\x28\xAD",      //
           "\xF0\x9F\x28\x80",  //
           "\xF0\x9F\x98\x28",  //
           "12345678\x80",      // bad byte after the fast path
           "1234567\xC3",       // truncated at a word boundary
           "abcdefgh12345678\xED\xA0\x80"
           "abcdefgh",
       }) {
    CAPTURE(bad);
    CHECK_FALSE(IsValidUtf8(bad));
  }
}

TEST_CASE("utf8: every position of a bad byte in a long ASCII run is caught") {
  for (size_t pos = 0; pos < 40; ++pos) {
    std::string s(40, 'x');
    s[pos] = '\x80';
    CAPTURE(pos);
    CHECK_FALSE(IsValidUtf8(s));
  }
}

TEST_CASE("utf8: printable ascii") {
  CHECK(IsPrintableAscii(""));
  CHECK(IsPrintableAscii("Hello, World! ~"));
  CHECK_FALSE(IsPrintableAscii("tab\there"));
  CHECK_FALSE(IsPrintableAscii("nl\n"));
  CHECK_FALSE(IsPrintableAscii("\x7F"));
  CHECK_FALSE(IsPrintableAscii("caf\xC3\xA9"));
  CHECK_FALSE(IsPrintableAscii(std::string_view("a\0", 2)));
}

TEST_CASE("utf8: ToValidUtf8 keeps well-formed text and replaces each bad byte with U+FFFD") {
  for (std::string_view ok : {"", "hello", "caf\xC3\xA9", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF"}) {
    CHECK(ToValidUtf8(ok) == ok);
  }
  CHECK(ToValidUtf8("a\xFF\xFE" "b") == "a\xEF\xBF\xBD\xEF\xBF\xBD" "b");
  CHECK(ToValidUtf8("\xC3") == "\xEF\xBF\xBD");  // truncated
  CHECK(ToValidUtf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate: 3 bad bytes
  CHECK(ToValidUtf8("\xE2\x82" "x\xE2\x82\xAC") == "\xEF\xBF\xBD\xEF\xBF\xBD" "x\xE2\x82\xAC");
  CHECK(IsValidUtf8(ToValidUtf8("\xC0\xAF\xF5\x80\x80\x80\x80")));
}

}  // namespace
}  // namespace im
