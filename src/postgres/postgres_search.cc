// PostgresSearchIndex: the SearchIndex contract (include/im/search.h) on PostgreSQL full text.
//
// Layout (im_search_meta.layout 1):
//   im_search(message_id bigint PRIMARY KEY, conversation_id text, seq, sender_id, sent_at_ms,
//             text, tsv tsvector) + GIN(tsv) + btree(conversation_id, message_id)
//   im_search_meta(layout, folds_diacritics, icu_lower): what the first open could set up.
//   text search configuration im_search: COPY = simple, plus unaccent before simple when the
//   extension could be created.
// tsv is computed by the INSERT from the words libim split (common/search_words.h), not by a
// generated column over `text`: the server's parser would keep "alice@example.com" or "a.b/c"
// as one token, and the contract splits on anything that is not a letter or digit. With ICU the
// words are lower-cased under the "und-x-icu" collation (a C-locale database lower-cases ASCII
// only), and so is the query.
//
// A query is to_tsquery('im_search', '''w1'':* & ''w2'':*') bound as a parameter, built only from
// SearchTerms with each term a quoted tsquery literal: user text is never parsed as tsquery
// operators. Conversations are a bound text[] (conversation_id = ANY($2)); the page is the
// newest limit + 1 rows below the cursor, and ts_headline runs on those rows only.
#include "im/postgres_search.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <pqxx/nontransaction>
#include <pqxx/subtransaction>
#include <pqxx/transaction>
#include <string>
#include <vector>

#include "common/search_words.h"
#include "common/utf8.h"
#include "postgres/connection_pool.h"
#include "postgres/error.h"
#include "postgres/run_transaction.h"

namespace im::postgres {
namespace {

constexpr int kLayout = 1;
constexpr uint32_t kMaxLimit = 1000;
// Words of an indexed text are cut to this many bytes (query terms to 64: still prefixes).
constexpr size_t kMaxIndexedWordBytes = 256;
// pg_advisory_xact_lock key of the schema setup: "im.searc" as a 64-bit integer.
constexpr const char* kSchemaLockKey = "7596779219600896611";

#define IM_SEARCH_UPSERT(WORDS)                                                                             \
  "INSERT INTO im_search(message_id, conversation_id, seq, sender_id, sent_at_ms, text, tsv) "              \
  "VALUES($1, $2, $3, $4, $5, $6, to_tsvector('im_search', " WORDS                                          \
  ")) "                                                                                                     \
  "ON CONFLICT (message_id) DO UPDATE SET conversation_id = excluded.conversation_id, seq = excluded.seq, " \
  "sender_id = excluded.sender_id, sent_at_ms = excluded.sent_at_ms, text = excluded.text, tsv = excluded.tsv"
#define IM_SEARCH_QUERY(QUERY)                                                                         \
  "SELECT message_id, conversation_id, seq, sender_id, sent_at_ms, ts_headline('im_search', text, q, " \
  "CASE WHEN octet_length(text) <= 2000 "                                                              \
  "THEN 'StartSel=\"<mark>\", StopSel=\"</mark>\", HighlightAll=true' "                                \
  "ELSE 'StartSel=\"<mark>\", StopSel=\"</mark>\", MaxFragments=2, MaxWords=30, MinWords=12, "         \
  "FragmentDelimiter=\" … \"' END) "                                                                 \
  "FROM (SELECT s.message_id, s.conversation_id, s.seq, s.sender_id, s.sent_at_ms, s.text, q "         \
  "FROM im_search s, to_tsquery('im_search', " QUERY                                                   \
  ") AS q "                                                                                            \
  "WHERE s.tsv @@ q AND s.conversation_id = ANY($2::text[]) AND s.message_id < $3 "                    \
  "ORDER BY s.message_id DESC LIMIT $4) AS hits ORDER BY message_id DESC"

// [icu_lower]
constexpr const char* kUpsert[2] = {IM_SEARCH_UPSERT("$7::text"),
                                    IM_SEARCH_UPSERT("lower($7::text COLLATE \"und-x-icu\")")};
constexpr const char* kSearch[2] = {IM_SEARCH_QUERY("$1::text"),
                                    IM_SEARCH_QUERY("lower($1::text COLLATE \"und-x-icu\")")};
constexpr const char* kRemove = "DELETE FROM im_search WHERE message_id = ANY($1::bigint[])";

#undef IM_SEARCH_UPSERT
#undef IM_SEARCH_QUERY

struct Layout {
  bool folds_diacritics = false;
  bool icu_lower = false;
};

// PostgreSQL text holds neither NUL bytes nor malformed UTF-8: NUL becomes a space, each byte
// that does not start a well-formed sequence U+FFFD. The index keeps what it can search.
std::string Scrub(std::string_view text) {
  if (text.find('\0') == std::string_view::npos && IsValidUtf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    if (len == 1) {
      out += c == 0 ? ' ' : static_cast<char>(c);
    } else if (len > 0 && i + len <= text.size() && IsValidUtf8(text.substr(i, len))) {
      out += text.substr(i, len);
    } else {
      out += "\xEF\xBF\xBD";
      len = 1;
    }
    i += len;
  }
  return out;
}

// A tsquery literal matching words that start with `term`: 'term':*, quotes doubled and
// backslashes escaped, so nothing inside is an operator.
std::string PrefixLiteral(std::string_view term) {
  std::string out = "'";
  for (char c : term) {
    if (c == '\'' || c == '\\') out += c == '\'' ? '\'' : '\\';
    out += c;
  }
  return out + "':*";
}

// A text[] literal: every element double-quoted, quotes and backslashes escaped.
std::string TextArray(const std::vector<ConversationId>& items) {
  std::string out = "{";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ',';
    out += '"';
    for (char c : items[i].str()) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

std::string IdArray(std::span<const MessageId> ids) {
  std::string out = "{";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out += ',';
    out += std::to_string(ids[i].value);
  }
  return out + "}";
}

int64_t I64(Seq seq) {
  constexpr auto kMax = static_cast<Seq>(std::numeric_limits<int64_t>::max());
  return static_cast<int64_t>(std::min(seq, kMax));
}

// Creates what is missing and reads the layout, in one transaction under an advisory lock (several
// processes may open at once).
Result<Layout> SetUpSchema(pqxx::connection& connection) {
  try {
    pqxx::work txn(connection);
    txn.exec_params("SELECT pg_advisory_xact_lock($1::bigint)", kSchemaLockKey);
    txn.exec("SET LOCAL client_min_messages = warning");
    txn.exec(
        "CREATE TABLE IF NOT EXISTS im_search_meta(layout integer NOT NULL, folds_diacritics boolean NOT NULL, "
        "icu_lower boolean NOT NULL)");
    pqxx::result meta = txn.exec("SELECT layout, folds_diacritics, icu_lower FROM im_search_meta");
    Layout layout;
    if (!meta.empty()) {
      int version = meta[0][0].as<int>();
      if (version > kLayout) {
        return Status::FailedPrecondition("postgres search: im_search has layout " + std::to_string(version) +
                                          ", newer than this libim (" + std::to_string(kLayout) + ")");
      }
      layout.folds_diacritics = meta[0][1].as<bool>();
      layout.icu_lower = meta[0][2].as<bool>();
      txn.commit();
      return layout;
    }
    txn.exec(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = 'im_search' "
        "AND cfgnamespace = current_schema()::regnamespace) THEN "
        "CREATE TEXT SEARCH CONFIGURATION im_search (COPY = simple); END IF; END $$");
    txn.exec(
        "CREATE TABLE IF NOT EXISTS im_search(message_id bigint PRIMARY KEY, conversation_id text NOT NULL, "
        "seq bigint NOT NULL, sender_id bigint NOT NULL, sent_at_ms bigint NOT NULL, text text NOT NULL, "
        "tsv tsvector NOT NULL)");
    txn.exec("CREATE INDEX IF NOT EXISTS im_search_tsv ON im_search USING gin(tsv)");
    txn.exec("CREATE INDEX IF NOT EXISTS im_search_conversation ON im_search(conversation_id, message_id)");
    // Diacritic folding needs the unaccent extension: created here when the role may (it is a
    // trusted extension since PostgreSQL 13: CREATE on the database is enough).
    try {
      pqxx::subtransaction sub(txn, "unaccent");
      sub.exec("CREATE EXTENSION IF NOT EXISTS unaccent");
      sub.exec(
          "ALTER TEXT SEARCH CONFIGURATION im_search ALTER MAPPING FOR asciiword, word, numword, asciihword, hword, "
          "numhword, hword_asciipart, hword_part, hword_numpart WITH unaccent, simple");
      sub.commit();
      layout.folds_diacritics = true;
    } catch (const pqxx::sql_error&) {
      layout.folds_diacritics = false;  // the subtransaction rolled back; the outer one goes on
    }
    layout.icu_lower =
        txn.exec("SELECT EXISTS(SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')")[0][0].as<bool>();
    txn.exec_params("INSERT INTO im_search_meta(layout, folds_diacritics, icu_lower) VALUES($1, $2, $3)", kLayout,
                    layout.folds_diacritics, layout.icu_lower);
    txn.commit();
    return layout;
  } catch (...) {
    return ClassifyCurrentException("postgres search: schema").status;
  }
}

class PostgresSearchIndex final : public SearchIndex {
 public:
  static Result<std::shared_ptr<SearchIndex>> Open(const PostgresSearchOptions& options);

  Status Index(std::span<const SearchDocument> documents) override;
  Status Remove(std::span<const MessageId> ids) override;
  Result<SearchPage> Search(const SearchQuery& query) override;

 private:
  // Runs `f(Tx&)` in one transaction (Txn = pqxx::work) or autocommitted (pqxx::nontransaction),
  // again on a live connection when the server rolled it back or the connection broke first.
  template <typename Txn, typename F>
  auto Run(const char* what, F f) -> decltype(f(std::declval<Tx&>()));

  Layout layout_;
  std::unique_ptr<ConnectionPool> pool_;
};

template <typename Txn, typename F>
auto PostgresSearchIndex::Run(const char* what, F f) -> decltype(f(std::declval<Tx&>())) {
  return RunTransaction<Txn>(*pool_, what, f);
}

Result<std::shared_ptr<SearchIndex>> PostgresSearchIndex::Open(const PostgresSearchOptions& options) {
  if (options.conninfo.empty()) return Status::InvalidArgument("postgres search: no conninfo");
  if (options.pool_size < 1) return Status::InvalidArgument("postgres search: pool_size must be at least 1");
  if (options.checkout_timeout_ms < 0) return Status::InvalidArgument("postgres search: negative checkout timeout");
  std::shared_ptr<PostgresSearchIndex> index(new PostgresSearchIndex());
  {
    IM_ASSIGN_OR_RETURN(auto session, OpenSession(options.conninfo));
    IM_ASSIGN_OR_RETURN(index->layout_, SetUpSchema(session->connection()));
  }
  try {
    index->pool_ = std::make_unique<ConnectionPool>(options.conninfo, options.pool_size,
                                                    std::chrono::milliseconds(options.checkout_timeout_ms));
  } catch (...) {
    return ClassifyCurrentException("postgres search: connect").status;
  }
  return std::shared_ptr<SearchIndex>(std::move(index));
}

Status PostgresSearchIndex::Index(std::span<const SearchDocument> documents) {
  if (documents.empty()) return Status::Ok();
  struct Row {
    std::string text, words;
  };
  std::vector<Row> rows;
  rows.reserve(documents.size());
  for (const SearchDocument& d : documents) {
    if (!d.id.valid() || !d.conversation.valid()) {
      return Status::InvalidArgument("postgres search: a document needs a message id and a conversation");
    }
    std::string text = Scrub(d.text);
    std::string words = JoinedSearchWords(text, kMaxIndexedWordBytes);
    rows.push_back({std::move(text), std::move(words)});
  }
  const char* upsert = kUpsert[layout_.icu_lower ? 1 : 0];
  return Run<pqxx::work>("postgres search: index", [&](Tx& tx) {
    for (size_t i = 0; i < documents.size(); ++i) {
      const SearchDocument& d = documents[i];
      tx.Exec(upsert, d.id.value, d.conversation.str(), I64(d.seq), d.sender.value, d.sent_at_ms, rows[i].text,
              rows[i].words);
    }
    return Status::Ok();
  });
}

Status PostgresSearchIndex::Remove(std::span<const MessageId> ids) {
  if (ids.empty()) return Status::Ok();
  const std::string array = IdArray(ids);
  return Run<pqxx::nontransaction>("postgres search: remove", [&](Tx& tx) {
    tx.Exec(kRemove, array);
    return Status::Ok();
  });
}

Result<SearchPage> PostgresSearchIndex::Search(const SearchQuery& query) {
  const std::vector<std::string> terms = SearchTerms(query.text);
  if (terms.empty()) return Status::InvalidArgument("search: the query has no words");
  if (query.limit == 0) return Status::InvalidArgument("search: limit must be positive");
  const uint32_t limit = std::min(query.limit, kMaxLimit);
  std::vector<ConversationId> conversations;
  for (const ConversationId& c : query.conversations) {
    if (c.valid()) conversations.push_back(c);
  }
  if (conversations.empty()) return SearchPage{};
  std::string tsquery;
  for (const std::string& term : terms) {
    if (!tsquery.empty()) tsquery += " & ";
    tsquery += PrefixLiteral(term);
  }
  const std::string array = TextArray(conversations);
  const int64_t before = query.before.valid() ? query.before.value : std::numeric_limits<int64_t>::max();
  const char* sql = kSearch[layout_.icu_lower ? 1 : 0];
  return Run<pqxx::nontransaction>("postgres search: search", [&](Tx& tx) -> Result<SearchPage> {
    pqxx::result rows = tx.Exec(sql, tsquery, array, before, static_cast<int64_t>(limit) + 1);
    SearchPage page;
    for (const auto& row : rows) {
      auto conversation = ConversationId::Parse(row[1].c_str());
      if (!conversation)
        return Status::Internal("postgres search: malformed conversation id " + row[1].as<std::string>());
      SearchHit hit;
      hit.id = MessageId(row[0].as<int64_t>());
      hit.conversation = std::move(*conversation);
      hit.seq = static_cast<Seq>(std::max<int64_t>(0, row[2].as<int64_t>()));
      hit.sender = UserId(row[3].as<int64_t>());
      hit.sent_at_ms = row[4].as<int64_t>();
      hit.highlight = row[5].as<std::string>();
      page.hits.push_back(std::move(hit));
    }
    if (page.hits.size() > limit) {
      page.hits.resize(limit);
      page.next_before = page.hits.back().id;
    }
    return page;
  });
}

}  // namespace

}  // namespace im::postgres

namespace im {

Result<std::shared_ptr<SearchIndex>> OpenPostgresSearchIndex(const PostgresSearchOptions& options) {
  return postgres::PostgresSearchIndex::Open(options);
}

}  // namespace im
