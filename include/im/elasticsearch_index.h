// The Elasticsearch/OpenSearch search index (target im::http): a SearchIndex (im/search.h) over
// the REST API — `_bulk` to index and remove, `_search` to query — through libcurl.
//
// The index: created lazily by the first call of any method (HEAD /<index>, then PUT with the
// mapping when it is missing; losing that race to another process is fine), once per object.
// Documents are keyed by message id (`_id`), so Index is an upsert; the text is analyzed with
// "im_text" (a pattern tokenizer splitting on anything that is not a letter or digit, as
// SearchTerms does; lowercase; asciifolding), so matching ignores case and diacritics. Each query word is a `match_phrase_prefix` clause, all of them required; note that
// Elasticsearch expands a prefix to at most 50 indexed terms per segment, so a one- or two-letter
// word may miss documents whose words sort after the first 50 with that prefix.
// Searches page by message id (`before`) and ask for one hit more than `limit` to know whether
// another page exists. `limit` is capped at 1000 (a page is never bigger).
//
// Threads: every method is thread-safe and blocks on the network (at most `timeout_ms` per HTTP
// request, times the retries below).
//
// Errors (every message names the HTTP status and what was attempted):
//  - transport failure (refused, DNS, TLS, timeout): retried, then unavailable;
//  - HTTP 429, 502, 503, 504: retried with exponential backoff and jitter (honouring a larger
//    Retry-After, capped at max_backoff_ms), then resource_exhausted (429) or unavailable;
//  - bulk items rejected with 429 or 5xx: only those items are sent again, the same way;
//  - HTTP 401/403: unavailable, not retried (the server is unusable with these credentials; a
//    caller must not read it as "not a member"); other 4xx (a bulk item's too): invalid_argument with
//    Elasticsearch's error type and reason; other 5xx: unavailable.
#ifndef IM_ELASTICSEARCH_INDEX_H_
#define IM_ELASTICSEARCH_INDEX_H_

#include <cstdint>
#include <memory>
#include <string>

#include "im/search.h"
#include "im/status.h"

namespace im {

struct ElasticsearchOptions {
  std::string url = "http://127.0.0.1:9200";  // http(s)://host[:port][/path prefix]
  std::string index = "im-messages";          // a valid index name (lower case, no / \ * ? " < > | , # : space)
  std::string api_key;                        // "Authorization: ApiKey <api_key>" (the encoded id:key)
  std::string username, password;             // basic auth; set either these or api_key, not both
  std::string ca_file;                        // PEM bundle to trust for https (empty: the system's)
  long timeout_ms = 10'000;                   // one HTTP request, connecting included (> 0)
  int max_attempts = 4;                       // per request on 429/502/503/504 and transport errors (>= 1)
  int64_t initial_backoff_ms = 100;           // first retry delay (>= 0), doubled each attempt
  int64_t max_backoff_ms = 5'000;             // cap of any retry delay, Retry-After included (>= initial)
  std::string refresh;                        // "", "true" or "wait_for": `_bulk`'s refresh parameter
};

// Checks the options (invalid_argument naming the bad one); does not contact the server.
Result<std::shared_ptr<SearchIndex>> OpenElasticsearchIndex(ElasticsearchOptions options);

}  // namespace im

#endif  // IM_ELASTICSEARCH_INDEX_H_
