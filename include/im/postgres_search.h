// The PostgreSQL full-text search index (target im::postgres): a SearchIndex (im/search.h) for the
// split deployment, in the same database as the PostgreSQL store or another one.
//
// Words: the text is split into words by libim itself (the rules of im/search.h), so the server's
// parser never joins words at '@', '.', '-' or '/' (e-mail addresses, hosts, file names). Case is
// folded for every script when the server has ICU collations (Debian's packages do), else for
// ASCII only. Diacritics are folded when the `unaccent` extension exists or can be created by the
// connecting role at the first open (Debian: part of postgresql-15); otherwise they are not, and
// that choice stays with the database (table im_search_meta). A run of letters without spaces
// (Chinese, Japanese) is one word, so only its beginning can be searched.
//
// Highlights come from ts_headline over the original text: texts up to 2,000 bytes whole with
// matched words in <mark>…</mark>, longer ones as fragments around the matches. ts_headline uses
// the server's own parser, so a matched word glued to others by punctuation (an e-mail address)
// may be found but not marked.
//
// Threads and connections: thread-safe; calls lease one of `pool_size` connections (waiting up to
// `checkout_timeout_ms`, then unavailable). Index and Remove are one transaction per call.
// Errors: unavailable when the server is down or restarting (broken connections are replaced on
// their next use), invalid_argument for a query without words or limit 0, internal with the
// server's message otherwise. No exception leaves the index.
//
// Schema: im_search (+ im_search_meta and the text search configuration im_search), created at
// the first open under an advisory lock, in the first schema of the connection's search_path.
#ifndef IM_POSTGRES_SEARCH_H_
#define IM_POSTGRES_SEARCH_H_

#include <memory>
#include <string>

#include "im/search.h"
#include "im/status.h"

namespace im {

struct PostgresSearchOptions {
  std::string conninfo;  // a libpq connection string, as for PostgresStoreOptions
  int pool_size = 4;     // pooled connections (>= 1)
  int checkout_timeout_ms = 5'000;
};

// Connects, creates the schema when missing. invalid_argument for bad options; unavailable when
// the server cannot be reached; failed_precondition when the tables were made by a newer libim.
Result<std::shared_ptr<SearchIndex>> OpenPostgresSearchIndex(const PostgresSearchOptions& options);

}  // namespace im

#endif  // IM_POSTGRES_SEARCH_H_
