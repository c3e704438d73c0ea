// SearchIndex: the full-text search seam (docs/search-and-push.md). The engine's task half feeds it stored
// messages (task type im.search); the logic half queries it for LogicApi::Search, restricted to
// the conversations the caller belongs to. Backends: SQLite FTS5 (imd's default,
// im/sqlite_search.h), PostgreSQL full text (im/postgres_search.h), Elasticsearch/OpenSearch
// (im/elasticsearch_index.h). All pass im/testing/search_conformance.h.
//
// Contract:
//  - Thread-safe; methods may block (disk, network).
//  - Index is an upsert by message id: indexing a message again replaces its text.
//  - Remove is idempotent: removing an id that is not indexed is ok.
//  - A query is a list of words. A document matches when every word is a prefix of one of its
//    words, compared case-insensitively (and, where the backend can, without diacritics). Words
//    are split on anything that is not a letter or a digit.
//  - Only documents of SearchQuery::conversations are returned (an empty list returns nothing),
//    newest first (by message id, descending), at most `limit` per page.
//  - Errors: invalid_argument for an unusable query, unavailable when the backend is down
//    (transient), resource_exhausted when it sheds load.
#ifndef IM_SEARCH_H_
#define IM_SEARCH_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "im/ids.h"
#include "im/model.h"
#include "im/status.h"

namespace im {

struct SearchDocument {
  MessageId id;
  ConversationId conversation;
  Seq seq = 0;
  UserId sender;
  TimestampMs sent_at_ms = 0;
  std::string text;  // what is searched: a text message's content (custom messages are not indexed)
};

struct SearchQuery {
  std::string text;
  std::vector<ConversationId> conversations;  // only these are searched
  uint32_t limit = 20;
  MessageId before;  // page cursor: only ids below this one (invalid id: from the newest)
};

struct SearchHit {
  MessageId id;
  ConversationId conversation;
  Seq seq = 0;
  UserId sender;
  TimestampMs sent_at_ms = 0;
  // A fragment of the text with each matched word wrapped in <mark>…</mark>; the text itself is
  // not escaped. Empty when the backend gives no highlight.
  std::string highlight;
};

struct SearchPage {
  std::vector<SearchHit> hits;
  MessageId next_before;  // pass as SearchQuery::before for the next page; invalid on the last page
};

class SearchIndex {
 public:
  virtual ~SearchIndex() = default;
  virtual Status Index(std::span<const SearchDocument> documents) = 0;
  virtual Status Remove(std::span<const MessageId> ids) = 0;
  virtual Result<SearchPage> Search(const SearchQuery& query) = 0;
};

// The words of a query as the contract above splits them (lower-cased, at most 16, each at most
// 64 bytes). Backends build their own query syntax from these, never from the raw text.
std::vector<std::string> SearchTerms(std::string_view text);

}  // namespace im

#endif  // IM_SEARCH_H_
