// The word splitter behind SearchTerms (include/im/search.h), for backends that must split the
// indexed text exactly as queries are split (the PostgreSQL index).
//
// A word is a run of letters and digits. ASCII is classified exactly (and lower-cased); other
// code points count as word characters unless they are in one of the punctuation, space and
// symbol blocks of search_words.cc, so UTF-8 words stay whole without a Unicode table. Malformed
// UTF-8 bytes separate words, so every word is valid UTF-8.
#ifndef IM_SRC_COMMON_SEARCH_WORDS_H_
#define IM_SRC_COMMON_SEARCH_WORDS_H_

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace im {

// Calls `emit` with each word of `text` in order (duplicates included), each cut to at most
// `max_bytes` at a UTF-8 boundary. Stops early when `emit` returns false.
void ForEachSearchWord(std::string_view text, size_t max_bytes, const std::function<bool(std::string&&)>& emit);

// The words of `text` joined by single spaces (each cut to `max_bytes`).
std::string JoinedSearchWords(std::string_view text, size_t max_bytes);

}  // namespace im

#endif  // IM_SRC_COMMON_SEARCH_WORDS_H_
