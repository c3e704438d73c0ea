// The word splitter of search (search_words.h).
#include "common/search_words.h"

#include <algorithm>
#include <cstdint>
#include <iterator>

namespace im {
namespace {

// Decodes the code point at s[i]; returns its length in bytes, or 0 for a malformed sequence
// (Unicode Table 3-7: no overlongs, surrogates or values above U+10FFFF).
size_t Decode(std::string_view s, size_t i, char32_t* cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  char32_t v;
  unsigned char lo = 0x80, hi = 0xBF;  // the allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2, v = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3, v = c & 0x0F;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4, v = c & 0x07;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  v = (v << 6) | (b(1) & 0x3F);
  for (size_t k = 2; k < len; ++k) {
    if ((b(k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (b(k) & 0x3F);
  }
  *cp = v;
  return len;
}

struct Range {
  char32_t first, last;
};

// Non-ASCII code points that separate words: spaces, punctuation, symbols, emoji and their
// modifiers. Letters and digits (including superscripts, fractions and CJK ideographs) are not
// listed. Sorted.
constexpr Range kSeparators[] = {
    {0x0080, 0x00A9}, {0x00AB, 0x00B1}, {0x00B4, 0x00B4}, {0x00B6, 0x00B8},   {0x00BB, 0x00BB},   {0x00BF, 0x00BF},
    {0x00D7, 0x00D7}, {0x00F7, 0x00F7}, {0x2000, 0x206F}, {0x20A0, 0x20CF},   {0x2190, 0x245F},   {0x2500, 0x2775},
    {0x2794, 0x2BFF}, {0x2E00, 0x2E7F}, {0x3000, 0x3004}, {0x3008, 0x3020},   {0x3030, 0x3030},   {0x3036, 0x3037},
    {0x303D, 0x303F}, {0xFE00, 0xFE1F}, {0xFE30, 0xFE6F}, {0xFEFF, 0xFEFF},   {0xFF01, 0xFF0F},   {0xFF1A, 0xFF20},
    {0xFF3B, 0xFF40}, {0xFF5B, 0xFF65}, {0xFFE0, 0xFFFF}, {0x1F000, 0x1FAFF}, {0xE0000, 0xE007F},
};

bool IsWordChar(char32_t cp) {
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z');
  auto it = std::upper_bound(std::begin(kSeparators), std::end(kSeparators), cp,
                             [](char32_t v, const Range& r) { return v < r.first; });
  return it == std::begin(kSeparators) || cp > std::prev(it)->last;
}

}  // namespace

void ForEachSearchWord(std::string_view text, size_t max_bytes, const std::function<bool(std::string&&)>& emit) {
  std::string word;
  bool truncated = false;  // the current word reached max_bytes: skip the rest of it
  auto finish = [&] {
    bool more = true;
    if (!word.empty()) more = emit(std::move(word));
    word.clear();
    truncated = false;
    return more;
  };
  for (size_t i = 0; i < text.size();) {
    char32_t cp = 0;
    size_t len = Decode(text, i, &cp);
    if (len == 0 || !IsWordChar(cp)) {
      if (!finish()) return;
      i += len == 0 ? 1 : len;
      continue;
    }
    if (!truncated) {
      if (word.size() + len > max_bytes) {
        truncated = true;  // cut at the code point boundary before the limit
      } else if (cp < 0x80) {
        word.push_back(static_cast<char>(cp >= 'A' && cp <= 'Z' ? cp - 'A' + 'a' : cp));
      } else {
        word.append(text.substr(i, len));
      }
    }
    i += len;
  }
  finish();
}

std::string JoinedSearchWords(std::string_view text, size_t max_bytes) {
  std::string out;
  ForEachSearchWord(text, max_bytes, [&](std::string&& word) {
    if (!out.empty()) out += ' ';
    out += word;
    return true;
  });
  return out;
}

}  // namespace im
