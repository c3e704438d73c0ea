// The PostgreSQL full-text search index on a real server: the SearchIndex conformance suite, with
// and without the unaccent extension, plus reopening, two indexes on one database, text the
// server would refuse, and a server restart.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "im/postgres_search.h"
#include "im/testing/search_conformance.h"
#include "postgres/postgres_test_util.h"

namespace {

using im::ConversationId;
using im::GroupId;
using im::MessageId;
using im::SearchDocument;
using im::StatusCode;
using im::UserId;
using im::test::NewDatabase;
using im::test::Sql;

std::shared_ptr<im::SearchIndex> OpenIndex(const std::string& conninfo) {
  auto index = im::OpenPostgresSearchIndex({.conninfo = conninfo});
  REQUIRE_MESSAGE(index.ok(), index.status().ToString());
  return *index;
}

bool FoldsDiacritics(const std::string& conninfo) {
  return Sql(conninfo, "SELECT folds_diacritics FROM im_search_meta")[0][0].as<bool>();
}

std::vector<int64_t> Find(im::SearchIndex& index, const std::string& text, std::vector<ConversationId> convs) {
  auto page = index.Search({text, std::move(convs), 100, MessageId()});
  REQUIRE_MESSAGE(page.ok(), page.status().ToString());
  std::vector<int64_t> ids;
  for (const auto& hit : page->hits) ids.push_back(hit.id.value);
  return ids;
}

void RunConformance(const std::function<std::string()>& new_database, bool expect_folding) {
  auto cases = im::testing::SearchConformanceCases({.folds_diacritics = expect_folding, .highlights = true});
  MESSAGE(cases.size() << " conformance cases");
  for (auto& c : cases) {
    const std::string conninfo = new_database();
    auto index = OpenIndex(conninfo);
    REQUIRE(FoldsDiacritics(conninfo) == expect_folding);
    auto start = std::chrono::steady_clock::now();
    im::Status status = c.run(*index);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    MESSAGE(c.name << ": " << (status.ok() ? "ok" : status.message()) << " (" << ms << " ms)");
    CHECK_MESSAGE(status.ok(), (c.name + ": " + status.message()));
  }
}

const ConversationId kG = ConversationId::Group(GroupId(7));
const ConversationId kD = ConversationId::Direct(UserId(1), UserId(2));

}  // namespace

TEST_CASE("postgres search: passes every SearchIndex conformance case, folding diacritics with unaccent") {
  // Debian's postgresql-15 ships unaccent: the index must find and use it.
  RunConformance([] { return NewDatabase(); }, true);
}

TEST_CASE("postgres search: without unaccent it passes the cases that need no folding") {
  // A role that may not create extensions (no CREATE on the database) but may create tables.
  const std::string admin = NewDatabase();
  Sql(admin,
      "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'im_plain') THEN "
      "CREATE ROLE im_plain LOGIN; END IF; END $$");
  auto plain_database = [] {
    const std::string conninfo = NewDatabase();
    Sql(conninfo, "REVOKE CREATE ON DATABASE " + Sql(conninfo, "SELECT current_database()")[0][0].as<std::string>() +
                      " FROM PUBLIC; GRANT CREATE ON SCHEMA public TO im_plain");
    return conninfo + " user=im_plain";
  };
  RunConformance(plain_database, false);
  // What the meta row says is what happens: no folding.
  const std::string conninfo = plain_database();
  auto index = OpenIndex(conninfo);
  CHECK_FALSE(FoldsDiacritics(conninfo));
  CHECK(Sql(conninfo, "SELECT count(*) FROM pg_extension WHERE extname = 'unaccent'")[0][0].as<int>() == 0);
  REQUIRE(index->Index(std::vector<SearchDocument>{{MessageId(1), kG, 1, UserId(1), 1, "café"}}).ok());
  CHECK(Find(*index, "café", {kG}) == std::vector<int64_t>{1});
  CHECK(Find(*index, "cafe", {kG}).empty());
}

TEST_CASE("postgres search: the index survives a reopen and two indexes share one database") {
  const std::string db = NewDatabase();
  {
    auto index = OpenIndex(db);
    REQUIRE(index
                ->Index(std::vector<SearchDocument>{{MessageId(1), kG, 1, UserId(1), 10, "persistent words"},
                                                    {MessageId(2), kD, 2, UserId(2), 20, "words removed later"}})
                .ok());
    REQUIRE(index->Remove(std::vector<MessageId>{MessageId(2)}).ok());
  }
  auto first = OpenIndex(db);
  auto second = OpenIndex(db);  // another process
  CHECK(Find(*first, "words", {kG, kD}) == std::vector<int64_t>{1});
  REQUIRE(second->Index(std::vector<SearchDocument>{{MessageId(3), kD, 3, UserId(1), 30, "More words"}}).ok());
  CHECK(Find(*first, "words", {kG, kD}) == std::vector<int64_t>{3, 1});
  auto page = first->Search({"more", {kD}, 10, MessageId()});
  REQUIRE(page.ok());
  REQUIRE(page->hits.size() == 1);
  CHECK(page->hits[0].seq == 3);
  CHECK(page->hits[0].sender == UserId(1));
  CHECK(page->hits[0].sent_at_ms == 30);
  CHECK(page->hits[0].highlight == "<mark>More</mark> words");
  CHECK(Sql(db, "SELECT count(*) FROM im_search_meta")[0][0].as<int>() == 1);
}

TEST_CASE("postgres search: NUL bytes and malformed UTF-8 are indexed, not refused") {
  auto index = OpenIndex(NewDatabase());
  REQUIRE(index
              ->Index(std::vector<SearchDocument>{{MessageId(1), kG, 1, UserId(1), 1, std::string("nul\0byte", 8)},
                                                  {MessageId(2), kG, 2, UserId(1), 2,
                                                   "bad\xff"
                                                   "utf8 \xc3"}})
              .ok());
  CHECK(Find(*index, "byte", {kG}) == std::vector<int64_t>{1});
  CHECK(Find(*index, "nul", {kG}) == std::vector<int64_t>{1});
  CHECK(Find(*index, "utf8 bad", {kG}) == std::vector<int64_t>{2});
}

TEST_CASE("postgres search: non-ASCII case folding (ICU) and the server's view of words") {
  const std::string db = NewDatabase();
  auto index = OpenIndex(db);
  bool icu = Sql(db, "SELECT icu_lower FROM im_search_meta")[0][0].as<bool>();
  CHECK_MESSAGE(icu, "this server has no ICU collations: non-ASCII case is not folded");
  REQUIRE(index
              ->Index(std::vector<SearchDocument>{{MessageId(1), kG, 1, UserId(1), 1, "ПРИВЕТ Мир"},
                                                  {MessageId(2), kG, 2, UserId(1), 2, "mail bob@example.org now"}})
              .ok());
  if (icu) {
    CHECK(Find(*index, "привет", {kG}) == std::vector<int64_t>{1});
    CHECK(Find(*index, "МИР", {kG}) == std::vector<int64_t>{1});
  }
  // The words are libim's, not the server parser's (which keeps an e-mail address whole).
  CHECK(Find(*index, "example", {kG}) == std::vector<int64_t>{2});
  CHECK(Find(*index, "org bob", {kG}) == std::vector<int64_t>{2});
  auto tsv = Sql(db, "SELECT tsv::text FROM im_search WHERE message_id = 2")[0][0].as<std::string>();
  CHECK(tsv.find("'example'") != std::string::npos);
  CHECK(tsv.find('@') == std::string::npos);
  auto limit0 = index->Search({"mail", {kG}, 0, MessageId()});
  CHECK(limit0.status().code() == StatusCode::kInvalidArgument);
}

TEST_CASE("postgres search: bad options, an unreachable server, a newer layout") {
  CHECK(im::OpenPostgresSearchIndex({.conninfo = ""}).status().code() == StatusCode::kInvalidArgument);
  const std::string db = NewDatabase();
  CHECK(im::OpenPostgresSearchIndex({.conninfo = db, .pool_size = 0}).status().code() == StatusCode::kInvalidArgument);
  CHECK(im::OpenPostgresSearchIndex({.conninfo = "host=127.0.0.1 port=1 dbname=x connect_timeout=2"}).status().code() ==
        StatusCode::kUnavailable);
  { OpenIndex(db); }
  Sql(db, "UPDATE im_search_meta SET layout = 2");
  auto newer = im::OpenPostgresSearchIndex({.conninfo = db});
  CHECK(newer.status().code() == StatusCode::kFailedPrecondition);
}

TEST_CASE("postgres search: a server restart is unavailable at worst, then searches work again") {
  auto started = im::test::PostgresCluster::Start({});
  REQUIRE_MESSAGE(started.ok(), started.status().ToString());
  im::test::PostgresCluster& cluster = **started;
  const std::string db = NewDatabase(cluster);
  auto index = OpenIndex(db);
  REQUIRE(index->Index(std::vector<SearchDocument>{{MessageId(1), kG, 1, UserId(1), 1, "before restart"}}).ok());
  REQUIRE(cluster.Restart("fast").ok());
  // Pooled connections died with the server: each is replaced on its next lease.
  for (int i = 0; i < 8; ++i) {
    auto page = index->Search({"restart", {kG}, 10, MessageId()});
    if (!page.ok()) {
      CHECK(page.status().code() == StatusCode::kUnavailable);
      continue;
    }
    CHECK(page->hits.size() == 1);
  }
  CHECK(Find(*index, "before", {kG}) == std::vector<int64_t>{1});
  REQUIRE(index->Index(std::vector<SearchDocument>{{MessageId(2), kG, 2, UserId(1), 2, "after restart"}}).ok());
  CHECK(Find(*index, "restart", {kG}) == std::vector<int64_t>{2, 1});
  REQUIRE(cluster.Stop("immediate").ok());
  auto down = index->Search({"restart", {kG}, 10, MessageId()});
  CHECK(down.status().code() == StatusCode::kUnavailable);
  CHECK(index->Index(std::vector<SearchDocument>{{MessageId(3), kG, 3, UserId(1), 3, "x"}}).code() ==
        StatusCode::kUnavailable);
}
