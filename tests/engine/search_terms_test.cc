// SearchTerms (include/im/search.h): how every search backend splits a query into words.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "im/search.h"

using Terms = std::vector<std::string>;

TEST_CASE("search terms: words are runs of letters and digits, ASCII lower-cased") {
  CHECK(im::SearchTerms("Hello, World!") == Terms{"hello", "world"});
  CHECK(im::SearchTerms("foo-bar_baz.qux@x/y 42nd") == Terms{"foo", "bar", "baz", "qux", "x", "y", "42nd"});
  CHECK(im::SearchTerms("\"foo* OR (bar") == Terms{"foo", "or", "bar"});
  CHECK(im::SearchTerms("  \t\n") == Terms{});
  CHECK(im::SearchTerms("") == Terms{});
  CHECK(im::SearchTerms("\"") == Terms{});
  CHECK(im::SearchTerms("a\0b") == Terms{"a"});  // a C string: stops at the NUL
  CHECK(im::SearchTerms(std::string("a\0b", 3)) == Terms{"a", "b"});
}

TEST_CASE("search terms: UTF-8 words stay whole, punctuation and symbols separate") {
  CHECK(im::SearchTerms("Café naïve") == Terms{"café", "naïve"});
  CHECK(im::SearchTerms("CAFÉ") == Terms{"cafÉ"});  // only ASCII is lower-cased here
  CHECK(im::SearchTerms("привет, мир") == Terms{"привет", "мир"});
  CHECK(im::SearchTerms("日本語のテキスト") == Terms{"日本語のテキスト"});
  CHECK(im::SearchTerms("日本語、テキスト。") == Terms{"日本語", "テキスト"});
  CHECK(im::SearchTerms("“quoted” — dash… «guillemets» ¿qué?") == Terms{"quoted", "dash", "guillemets", "qué"});
  CHECK(im::SearchTerms("🎉party🎉 ❤️love a\u00a0b") == Terms{"party", "love", "a", "b"});
  CHECK(im::SearchTerms("x²") == Terms{"x²"});
  CHECK(im::SearchTerms("ＦＵＬＬ！ｗｉｄｔｈ") == Terms{"ＦＵＬＬ", "ｗｉｄｔｈ"});
}

TEST_CASE("search terms: malformed UTF-8 separates words") {
  CHECK(im::SearchTerms("ab\xff"
                        "cd") == Terms{"ab", "cd"});
  CHECK(im::SearchTerms("\xc3") == Terms{});                    // truncated sequence
  CHECK(im::SearchTerms("a\xc0\xafz") == Terms{"a", "z"});      // overlong '/'
  CHECK(im::SearchTerms("a\xed\xa0\x80z") == Terms{"a", "z"});  // surrogate
  CHECK(im::SearchTerms("\xf4\x90\x80\x80") == Terms{});        // above U+10FFFF
}

TEST_CASE("search terms: at most 16 distinct words of at most 64 bytes") {
  CHECK(im::SearchTerms("a b a B c b") == Terms{"a", "b", "c"});
  std::string many;
  for (int i = 0; i < 40; ++i) many += "w" + std::to_string(i) + " ";
  Terms terms = im::SearchTerms(many);
  REQUIRE(terms.size() == 16);
  CHECK(terms.front() == "w0");
  CHECK(terms.back() == "w15");
  // Duplicates do not count towards the 16.
  CHECK(im::SearchTerms("x x x x x x x x x x x x x x x x x x y").size() == 2);

  CHECK(im::SearchTerms(std::string(100, 'A')) == Terms{std::string(64, 'a')});
  // "é" is 2 bytes: 32 fit exactly; with one ASCII byte in front, the 33rd would cross 64.
  std::string e32;
  for (int i = 0; i < 40; ++i) e32 += "é";
  CHECK(im::SearchTerms(e32)[0].size() == 64);
  Terms cut = im::SearchTerms("x" + e32 + " next");
  REQUIRE(cut.size() == 2);
  CHECK(cut[0].size() == 63);
  CHECK(cut[1] == "next");
  // Words that differ only after byte 64 are one term.
  CHECK(im::SearchTerms(std::string(70, 'q') + "1 " + std::string(70, 'q') + "2").size() == 1);
}
