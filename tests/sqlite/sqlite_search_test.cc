// The SQLite FTS5 search index: the SearchIndex conformance suite, plus what only a file-backed
// index can get wrong (reopen, layout versions, paths, what reaches the FTS5 query parser).
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "im/sqlite_search.h"
#include "im/testing/search_conformance.h"
#include "support/temp_db.h"

namespace {

namespace fs = std::filesystem;
using im::ConversationId;
using im::GroupId;
using im::MessageId;
using im::SearchDocument;
using im::StatusCode;
using im::UserId;

im::test::TempDbDir temp_dbs("im-sqlite-search");

std::string TempDb(const std::string& name) { return temp_dbs.NewPath(name); }

std::shared_ptr<im::SearchIndex> Open(const std::string& path) {
  auto index = im::OpenSqliteSearchIndex({.path = path, .synchronous = false});
  REQUIRE_MESSAGE(index.ok(), index.status().ToString());
  return *index;
}

std::vector<int64_t> Find(im::SearchIndex& index, const std::string& text, std::vector<ConversationId> convs) {
  auto page = index.Search({text, std::move(convs), 100, MessageId()});
  REQUIRE_MESSAGE(page.ok(), page.status().ToString());
  std::vector<int64_t> ids;
  for (const auto& hit : page->hits) ids.push_back(hit.id.value);
  return ids;
}

void ExecRaw(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* error = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  CHECK_MESSAGE(rc == SQLITE_OK, (error != nullptr ? error : "?"));
  sqlite3_free(error);
  sqlite3_close(db);
}

const ConversationId kG = ConversationId::Group(GroupId(7));
const ConversationId kD = ConversationId::Direct(UserId(1), UserId(2));

}  // namespace

TEST_CASE("sqlite search: this SQLite has FTS5") { CHECK(sqlite3_compileoption_used("ENABLE_FTS5") == 1); }

TEST_CASE("sqlite search: passes every SearchIndex conformance case") {
  auto cases = im::testing::SearchConformanceCases({.folds_diacritics = true, .highlights = true});
  MESSAGE(cases.size() << " conformance cases");
  for (auto& c : cases) {
    auto index = Open(TempDb("conformance.db"));
    im::Status status = c.run(*index);
    CHECK_MESSAGE(status.ok(), (c.name + ": " + status.message()));
  }
}

TEST_CASE("sqlite search: the conformance runner reports no failure (durable mode)") {
  auto failures = im::testing::RunSearchConformance([] {
    auto index = im::OpenSqliteSearchIndex({.path = TempDb("durable.db")});
    return index.ok() ? *index : nullptr;
  });
  for (const auto& f : failures) FAIL_CHECK(f);
  CHECK(failures.empty());
}

TEST_CASE("sqlite search: the index survives a reopen") {
  const std::string path = TempDb("reopen.db");
  {
    auto index = Open(path);
    REQUIRE(index
                ->Index(std::vector<SearchDocument>{{MessageId(1), kG, 1, UserId(1), 10, "persistent words"},
                                                    {MessageId(2), kD, 2, UserId(2), 20, "words removed later"},
                                                    {MessageId(3), kD, 3, UserId(1), 30, "more words"}})
                .ok());
    REQUIRE(index->Remove(std::vector<MessageId>{MessageId(2)}).ok());
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto index = Open(path);
    CHECK(Find(*index, "words", {kG, kD}) == std::vector<int64_t>{3, 1});
    CHECK(Find(*index, "removed", {kG, kD}).empty());
    CHECK(Find(*index, "pers", {kG}) == std::vector<int64_t>{1});
    auto page = index->Search({"more", {kD}, 10, MessageId()});
    REQUIRE(page.ok());
    REQUIRE(page->hits.size() == 1);
    CHECK(page->hits[0].seq == 3);
    CHECK(page->hits[0].sender == UserId(1));
    CHECK(page->hits[0].sent_at_ms == 30);
    CHECK(page->hits[0].conversation == kD);
    CHECK(page->hits[0].highlight == "<mark>more</mark> words");
    // Writes after a reopen persist too.
    REQUIRE(index
                ->Index(std::vector<SearchDocument>{
                    {MessageId(10 + reopen), kG, 5, UserId(1), 40, "reopen" + std::to_string(reopen)}})
                .ok());
  }
  auto index = Open(path);
  CHECK(Find(*index, "reopen", {kG}) == std::vector<int64_t>{11, 10});
}

TEST_CASE("sqlite search: a file with a newer layout is refused, bad paths are reported") {
  const std::string path = TempDb("newer.db");
  { Open(path); }
  ExecRaw(path, "PRAGMA user_version = 2");
  auto newer = im::OpenSqliteSearchIndex({.path = path});
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.status().code() == StatusCode::kFailedPrecondition);

  CHECK(im::OpenSqliteSearchIndex({.path = ""}).status().code() == StatusCode::kInvalidArgument);
  fs::path nested = fs::path(TempDb("dir")) / "a" / "b" / "search.db";
  auto created = im::OpenSqliteSearchIndex({.path = nested.string()});
  REQUIRE_MESSAGE(created.ok(), created.status().ToString());
  CHECK(fs::exists(nested));
  const std::string file = TempDb("plain-file");
  std::ofstream(file) << "not a directory";
  auto under_file = im::OpenSqliteSearchIndex({.path = file + "/search.db"});
  CHECK(under_file.status().code() == StatusCode::kUnavailable);
}

TEST_CASE("sqlite search: FTS5 syntax in documents and queries stays text") {
  auto index = Open(TempDb("syntax.db"));
  // Column names, operators and quotes inside documents and queries.
  REQUIRE(index
              ->Index(std::vector<SearchDocument>{{MessageId(1), kG, 1, UserId(1), 1, "conv : g7 text OR \"x\""},
                                                  {MessageId(2), kG, 2, UserId(1), 2, "plain"}})
              .ok());
  // "conv" and "g7" are words of message 1's text, not the conversation column.
  CHECK(Find(*index, "conv g7", {kG}) == std::vector<int64_t>{1});
  CHECK(Find(*index, "g7", {kD}).empty());
  CHECK(Find(*index, "conv : (\"g7\") OR plain", {kG}).empty());  // conv, g7, or, plain: no message has all
  CHECK(Find(*index, "text:plain", {kG}).empty());
  CHECK(Find(*index, "plain", {kG}) == std::vector<int64_t>{2});
  auto limit0 = index->Search({"plain", {kG}, 0, MessageId()});
  CHECK(limit0.status().code() == StatusCode::kInvalidArgument);
}
