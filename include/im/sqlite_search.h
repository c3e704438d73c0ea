// The SQLite FTS5 search index (target im::sqlite): imd's default SearchIndex (im/search.h).
//
// Its own database file (e.g. data/search.db beside the store's data/im.db), WAL journal. Index and
// Remove run one transaction per call on a single write connection (callers are serialised by a
// mutex); searches run in parallel on a small pool of read connections. Words are tokenized by
// FTS5's unicode61 tokenizer with remove_diacritics 2: case and diacritics are folded for every
// script Unicode 6.1 knows. A run of letters without spaces (Chinese, Japanese) is one word, so
// only its beginning can be searched. Highlights are snippets of up to 64 words around the
// matches (a shorter text comes back whole).
//
// Errors: unavailable for a busy or unwritable file, invalid_argument for a query without words
// or limit 0, internal for anything unexpected (a damaged file). No exception leaves the index.
#ifndef IM_SQLITE_SEARCH_H_
#define IM_SQLITE_SEARCH_H_

#include <memory>
#include <string>

#include "im/search.h"
#include "im/status.h"

namespace im {

struct SqliteSearchOptions {
  std::string path;         // its own database file, e.g. data/search.db; created with its directory
  // true: every commit is fsync'd. false: synchronous=NORMAL in WAL mode — a commit survives a
  // crash of the process but not of the machine (the last commits before a power loss can be
  // lost). imd uses false: the index is derived data, and fsync per message made indexing fall
  // behind at 2,000 msg/s (docs/performance.md).
  bool synchronous = true;
  int reader_connections = 4;
};

// Opens (creating when missing) the index. unavailable when the file cannot be opened,
// failed_precondition when this SQLite has no FTS5 or the file holds a newer layout.
Result<std::shared_ptr<SearchIndex>> OpenSqliteSearchIndex(const SqliteSearchOptions& options);

}  // namespace im

#endif  // IM_SQLITE_SEARCH_H_
