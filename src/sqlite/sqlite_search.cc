// SqliteSearchIndex: the SearchIndex contract (include/im/search.h) on an SQLite FTS5 table.
//
// Layout (PRAGMA user_version 1): one FTS5 table that keeps its own content,
//   search(text, conv, conversation_id UNINDEXED, seq UNINDEXED, sender UNINDEXED,
//          sent_at UNINDEXED), rowid = message id.
// `conv` holds one token naming the conversation ("g<group>", "d<low>x<high>": letters and digits,
// so unicode61 keeps it whole). A search is one MATCH expression,
//   conv : ("g7" OR "d1x2" …) AND text : ("word"* AND …)
// so FTS5 intersects the doclists of the caller's conversations with those of the words, walking
// rowids downwards and stopping after limit + 1 hits, instead of reading every matching message
// of every conversation and filtering the column afterwards. The expression is built only from
// SearchTerms (each a quoted phrase) and conversation tokens made here: user text never reaches
// the FTS5 query parser unquoted. Lists longer than kConversationsPerQuery are searched in chunks
// inside one read transaction and merged.
//
// Why not an external-content or contentless table: contentless tables cannot delete rows or
// make snippets on SQLite 3.40, and an external-content table needs triggers to stay in sync for
// no gain here (the index is the only copy the search needs; the store keeps the messages).
#include "im/sqlite_search.h"

#include <SQLiteCpp/Database.h>
#include <SQLiteCpp/Statement.h>
#include <SQLiteCpp/Transaction.h>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <mutex>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "sqlite/connection.h"
#include "sqlite/error.h"

namespace im::sqlite {
namespace {

constexpr int kLayoutVersion = 1;
constexpr size_t kConversationsPerQuery = 500;
constexpr uint32_t kMaxLimit = 1000;

constexpr const char* kCreateTable =
    "CREATE VIRTUAL TABLE search USING fts5("
    "text, conv, conversation_id UNINDEXED, seq UNINDEXED, sender UNINDEXED, sent_at UNINDEXED, "
    "tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')";
constexpr const char* kDelete = "DELETE FROM search WHERE rowid = ?1";
constexpr const char* kInsert =
    "INSERT INTO search(rowid, text, conv, conversation_id, seq, sender, sent_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kSearch =
    "SELECT rowid, conversation_id, seq, sender, sent_at, snippet(search, 0, '<mark>', '</mark>', '…', 64) "
    "FROM search WHERE search MATCH ?1 AND rowid < ?2 ORDER BY rowid DESC LIMIT ?3";

// The `conv` token of a conversation.
std::string ConversationToken(const ConversationId& c) {
  if (c.is_group()) return "g" + std::to_string(c.group().value);
  return "d" + std::to_string(c.low_user().value) + "x" + std::to_string(c.high_user().value);
}

// An FTS5 string: double quotes, inner quotes doubled. Inside one, nothing is an operator.
std::string Quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// "text : ("a"* AND "b"*)": every term as a prefix phrase of the text column.
std::string TextExpression(const std::vector<std::string>& terms) {
  std::string out = "text : (";
  for (size_t i = 0; i < terms.size(); ++i) {
    if (i > 0) out += " AND ";
    out += Quoted(terms[i]) + "*";
  }
  return out + ")";
}

std::string ConversationExpression(std::span<const std::string> tokens) {
  std::string out = "conv : (";
  for (size_t i = 0; i < tokens.size(); ++i) {
    if (i > 0) out += " OR ";
    out += Quoted(tokens[i]);
  }
  return out + ")";
}

class SqliteSearchIndex final : public SearchIndex {
 public:
  static Result<std::shared_ptr<SearchIndex>> Open(const SqliteSearchOptions& options);

  Status Index(std::span<const SearchDocument> documents) override;
  Status Remove(std::span<const MessageId> ids) override;
  Result<SearchPage> Search(const SearchQuery& query) override;

 private:
  // Runs `f(StatementCache&)` in one IMMEDIATE transaction on the write connection.
  template <typename F>
  Status Write(const char* what, F f);

  std::mutex write_mu_;
  std::unique_ptr<SQLite::Database> writer_;
  std::unique_ptr<StatementCache> write_statements_;
  std::unique_ptr<ReaderPool> readers_;
};

Status CreateOrCheckLayout(SQLite::Database& db) {
  int version = db.execAndGet("PRAGMA user_version").getInt();
  if (version > kLayoutVersion) {
    return Status::FailedPrecondition("sqlite search: " + db.getFilename() + " has layout version " +
                                      std::to_string(version) + ", newer than this libim (" +
                                      std::to_string(kLayoutVersion) + ")");
  }
  if (version == kLayoutVersion) return Status::Ok();
  SQLite::Transaction txn(db, SQLite::TransactionBehavior::IMMEDIATE);
  try {
    db.exec(kCreateTable);
  } catch (const SQLite::Exception& e) {
    if (std::string_view(e.what()).find("no such module") != std::string_view::npos) {
      return Status::FailedPrecondition(std::string("sqlite search: this SQLite has no FTS5: ") + e.what());
    }
    throw;
  }
  db.exec("PRAGMA user_version = " + std::to_string(kLayoutVersion));
  txn.commit();
  return Status::Ok();
}

Result<std::shared_ptr<SearchIndex>> SqliteSearchIndex::Open(const SqliteSearchOptions& options) {
  if (options.path.empty()) return Status::InvalidArgument("sqlite search: no path");
  std::error_code ec;
  std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) return Status::Unavailable("sqlite search: cannot create " + parent.string() + ": " + ec.message());
  std::shared_ptr<SqliteSearchIndex> index(new SqliteSearchIndex());
  try {
    index->writer_ = OpenConnection(options.path, ConnectionRole::kWriter, options.synchronous);
    IM_RETURN_IF_ERROR(CreateOrCheckLayout(*index->writer_));
    index->write_statements_ = std::make_unique<StatementCache>(*index->writer_);
    index->readers_ = std::make_unique<ReaderPool>(options.path, options.reader_connections, options.synchronous);
  } catch (...) {
    return FromCurrentException("sqlite search: open " + options.path);
  }
  return std::shared_ptr<SearchIndex>(std::move(index));
}

template <typename F>
Status SqliteSearchIndex::Write(const char* what, F f) {
  std::lock_guard lock(write_mu_);
  try {
    SQLite::Transaction txn(*writer_, SQLite::TransactionBehavior::IMMEDIATE);
    f(*write_statements_);
    txn.commit();
    return Status::Ok();
  } catch (...) {
    // ~Transaction rolled back; reset statements a failure left mid-step.
    return FromCurrentException(what);
  }
}

Status SqliteSearchIndex::Index(std::span<const SearchDocument> documents) {
  if (documents.empty()) return Status::Ok();
  for (const SearchDocument& d : documents) {
    if (!d.id.valid() || !d.conversation.valid()) {
      return Status::InvalidArgument("sqlite search: a document needs a message id and a conversation");
    }
  }
  return Write("sqlite search: index", [&](StatementCache& statements) {
    for (const SearchDocument& d : documents) {
      {
        StatementScope del(statements, kDelete);
        del->bind(1, d.id.value);
        del->exec();
      }
      StatementScope ins(statements, kInsert);
      ins->bind(1, d.id.value);
      ins->bind(2, d.text);
      ins->bind(3, ConversationToken(d.conversation));
      ins->bind(4, d.conversation.str());
      ins->bind(5, static_cast<int64_t>(std::min<Seq>(d.seq, std::numeric_limits<int64_t>::max())));
      ins->bind(6, d.sender.value);
      ins->bind(7, d.sent_at_ms);
      ins->exec();
    }
  });
}

Status SqliteSearchIndex::Remove(std::span<const MessageId> ids) {
  if (ids.empty()) return Status::Ok();
  return Write("sqlite search: remove", [&](StatementCache& statements) {
    for (MessageId id : ids) {
      StatementScope del(statements, kDelete);
      del->bind(1, id.value);
      del->exec();
    }
  });
}

Result<SearchPage> SqliteSearchIndex::Search(const SearchQuery& query) {
  const std::vector<std::string> terms = SearchTerms(query.text);
  if (terms.empty()) return Status::InvalidArgument("search: the query has no words");
  if (query.limit == 0) return Status::InvalidArgument("search: limit must be positive");
  const uint32_t limit = std::min(query.limit, kMaxLimit);
  SearchPage page;
  if (query.conversations.empty()) return page;

  std::vector<std::string> tokens;
  tokens.reserve(query.conversations.size());
  for (const ConversationId& c : query.conversations) {
    if (c.valid()) tokens.push_back(ConversationToken(c));
  }
  std::sort(tokens.begin(), tokens.end());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  if (tokens.empty()) return page;
  const std::string text = TextExpression(terms);
  const int64_t before = query.before.valid() ? query.before.value : std::numeric_limits<int64_t>::max();

  try {
    auto lease = readers_->Acquire();
    const bool chunked = tokens.size() > kConversationsPerQuery;
    if (chunked) lease.db().exec("BEGIN");  // one snapshot for every chunk
    try {
      for (size_t at = 0; at < tokens.size(); at += kConversationsPerQuery) {
        std::span<const std::string> chunk(tokens.data() + at, std::min(kConversationsPerQuery, tokens.size() - at));
        StatementScope st(lease.statements(), kSearch);
        st->bind(1, ConversationExpression(chunk) + " AND " + text);
        st->bind(2, before);
        st->bind(3, static_cast<int64_t>(limit) + 1);
        while (st->executeStep()) {
          auto conversation = ConversationId::Parse(st->getColumn(1).getString());
          if (!conversation) throw std::runtime_error("malformed conversation id " + st->getColumn(1).getString());
          SearchHit hit;
          hit.id = MessageId(st->getColumn(0).getInt64());
          hit.conversation = std::move(*conversation);
          hit.seq = static_cast<Seq>(std::max<int64_t>(0, st->getColumn(2).getInt64()));
          hit.sender = UserId(st->getColumn(3).getInt64());
          hit.sent_at_ms = st->getColumn(4).getInt64();
          hit.highlight = st->getColumn(5).getString();
          page.hits.push_back(std::move(hit));
        }
      }
    } catch (...) {
      if (chunked) lease.db().tryExec("ROLLBACK");
      throw;
    }
    if (chunked) {
      lease.db().exec("COMMIT");
      std::sort(page.hits.begin(), page.hits.end(), [](const SearchHit& a, const SearchHit& b) { return a.id > b.id; });
    }
  } catch (...) {
    return FromCurrentException("sqlite search: search");
  }
  if (page.hits.size() > limit) {
    page.hits.resize(limit);
    page.next_before = page.hits.back().id;
  }
  return page;
}

}  // namespace

}  // namespace im::sqlite

namespace im {

Result<std::shared_ptr<SearchIndex>> OpenSqliteSearchIndex(const SqliteSearchOptions& options) {
  return sqlite::SqliteSearchIndex::Open(options);
}

}  // namespace im
