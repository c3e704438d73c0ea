// SearchTerms (include/im/search.h): the words of a search query, as every backend sees them.
// The splitting rules are in common/search_words.cc (shared with backends that split documents).
#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "common/search_words.h"
#include "im/search.h"

namespace im {

std::vector<std::string> SearchTerms(std::string_view text) {
  constexpr size_t kMaxTerms = 16;
  constexpr size_t kMaxTermBytes = 64;
  std::vector<std::string> terms;
  ForEachSearchWord(text, kMaxTermBytes, [&](std::string&& word) {
    if (std::find(terms.begin(), terms.end(), word) == terms.end()) terms.push_back(std::move(word));
    return terms.size() < kMaxTerms;
  });
  return terms;
}

}  // namespace im
