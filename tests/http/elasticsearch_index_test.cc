// The Elasticsearch index against a CheckingHttpServer: every request is checked the way
// Elasticsearch would read it (method, target, headers, JSON/NDJSON bodies), and answered with
// bodies shaped like Elasticsearch 8's.
#include "im/elasticsearch_index.h"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>

#include "http/checking_http_server.h"

namespace im::test {
namespace {

namespace json = boost::json;

const ConversationId kGroup7 = ConversationId::Group(GroupId(7));
const ConversationId kDirect = ConversationId::Direct(UserId(42), UserId(43));

ElasticsearchOptions TestOptions(const CheckingHttpServer& server) {
  ElasticsearchOptions o;
  o.url = server.url();
  o.refresh = "wait_for";
  o.max_attempts = 3;
  o.initial_backoff_ms = 1;
  o.max_backoff_ms = 20;
  o.timeout_ms = 5'000;
  return o;
}

std::shared_ptr<SearchIndex> Open(ElasticsearchOptions options) {
  auto index = OpenElasticsearchIndex(std::move(options));
  REQUIRE_MESSAGE(index.ok(), index.status().ToString());
  return *index;
}

json::value Json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  REQUIRE_MESSAGE(!ec, "not JSON: " << text);
  return v;
}

// The lines of an NDJSON body, which must end with a newline and have no empty line.
std::vector<std::string> NdjsonLines(const std::string& body) {
  REQUIRE(!body.empty());
  CHECK(body.back() == '\n');
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find('\n', start);
    if (end == std::string::npos) end = body.size();
    lines.push_back(body.substr(start, end - start));
    CHECK_MESSAGE(!lines.back().empty(), "empty NDJSON line");
    start = end + 1;
  }
  return lines;
}

SearchDocument Doc(int64_t id, ConversationId conversation, Seq seq, int64_t sender, std::string text) {
  return SearchDocument{MessageId(id),  std::move(conversation), seq,
                        UserId(sender), 1'700'000'000'000 + id,  std::move(text)};
}

// The NDJSON lines Elasticsearch must receive to index `d`.
std::vector<json::value> IndexLines(const SearchDocument& d) {
  return {json::value{{"index", {{"_index", "im-messages"}, {"_id", std::to_string(d.id.value)}}}},
          json::value{{"message_id", d.id.value},
                      {"conversation_id", d.conversation.str()},
                      {"seq", d.seq},
                      {"sender_id", d.sender.value},
                      {"sent_at_ms", d.sent_at_ms},
                      {"text", d.text}}};
}

void CheckBulkBody(const RecordedRequest& r, const std::vector<json::value>& expected) {
  CHECK(r.method == "POST");
  CHECK(r.target == "/_bulk?refresh=wait_for");
  CHECK(r.header("content-type") == "application/x-ndjson");
  auto lines = NdjsonLines(r.body);
  REQUIRE(lines.size() == expected.size());
  for (size_t i = 0; i < lines.size(); ++i)
    CHECK_MESSAGE(Json(lines[i]) == expected[i], "line " << i << ": " << lines[i]);
}

// Elasticsearch's answers.
std::string BulkItem(std::string_view op, int64_t id, int status, std::string_view result = "") {
  std::string r = result.empty() ? (status == 201 ? "created" : "updated") : std::string(result);
  return R"({")" + std::string(op) + R"(":{"_index":"im-messages","_id":")" + std::to_string(id) +
         R"(","_version":2,"result":")" + r +
         R"(","forced_refresh":true,"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":5,"_primary_term":1,"status":)" +
         std::to_string(status) + "}}";
}
std::string BulkItemError(int64_t id, int status, std::string_view type, std::string_view reason) {
  return R"({"index":{"_index":"im-messages","_id":")" + std::to_string(id) + R"(","status":)" +
         std::to_string(status) + R"(,"error":{"type":")" + std::string(type) + R"(","reason":")" +
         std::string(reason) + R"("}}})";
}
std::string BulkResponse(bool errors, const std::vector<std::string>& items) {
  std::string r = R"({"took":12,"errors":)" + std::string(errors ? "true" : "false") + R"(,"items":[)";
  for (size_t i = 0; i < items.size(); ++i) r += (i ? "," : "") + items[i];
  return r + "]}";
}
std::string ErrorBody(std::string_view type, std::string_view reason, int status) {
  std::string cause = R"({"type":")" + std::string(type) + R"(","reason":")" + std::string(reason) + R"("})";
  return R"({"error":{"root_cause":[)" + cause + R"(],"type":")" + std::string(type) + R"(","reason":")" +
         std::string(reason) + R"("},"status":)" + std::to_string(status) + "}";
}
std::string SearchHitJson(const SearchDocument& d, std::string_view highlight) {
  return R"({"_index":"im-messages","_id":")" + std::to_string(d.id.value) +
         R"(","_score":null,"_source":{"message_id":)" + std::to_string(d.id.value) + R"(,"conversation_id":")" +
         d.conversation.str() + R"(","seq":)" + std::to_string(d.seq) + R"(,"sender_id":)" +
         std::to_string(d.sender.value) + R"(,"sent_at_ms":)" + std::to_string(d.sent_at_ms) +
         R"(},"highlight":{"text":[")" + std::string(highlight) + R"("]},"sort":[)" + std::to_string(d.id.value) + "]}";
}
std::string SearchResponse(const std::vector<std::string>& hits) {
  std::string r =
      R"({"took":3,"timed_out":false,"_shards":{"total":1,"successful":1,"skipped":0,"failed":0},"hits":{"max_score":null,"hits":[)";
  for (size_t i = 0; i < hits.size(); ++i) r += (i ? "," : "") + hits[i];
  return r + "]}}";
}

const char* const kCreated = R"({"acknowledged":true,"shards_acknowledged":true,"index":"im-messages"})";

const char* const kExpectedIndexDefinition = R"({
  "settings": {"analysis": {
      "tokenizer": {"im_words": {"type": "pattern", "pattern": "[^\\p{L}\\p{N}]+"}},
      "analyzer": {"im_text": {
          "type": "custom", "tokenizer": "im_words", "filter": ["lowercase", "asciifolding"]}}}},
  "mappings": {
    "dynamic": "strict",
    "properties": {
      "message_id": {"type": "long"},
      "conversation_id": {"type": "keyword"},
      "seq": {"type": "long"},
      "sender_id": {"type": "long"},
      "sent_at_ms": {"type": "date", "format": "epoch_millis"},
      "text": {"type": "text", "analyzer": "im_text"}
    }
  }
})";

TEST_CASE("elasticsearch: options are checked without contacting the server") {
  CheckingHttpServer server;
  auto bad = [&](auto change) {
    ElasticsearchOptions o = TestOptions(server);
    change(o);
    auto index = OpenElasticsearchIndex(o);
    REQUIRE_FALSE(index.ok());
    CHECK(index.status().code() == StatusCode::kInvalidArgument);
    return index.status().message();
  };
  CHECK(bad([](auto& o) { o.url = "127.0.0.1:9200"; }).find("url") != std::string::npos);
  CHECK(bad([](auto& o) { o.url = "ftp://x"; }).find("url") != std::string::npos);
  CHECK(bad([](auto& o) { o.index = "Messages"; }).find("index name") != std::string::npos);
  CHECK(bad([](auto& o) { o.index = "_hidden"; }).find("index name") != std::string::npos);
  CHECK(bad([](auto& o) { o.index = "a/b"; }).find("index name") != std::string::npos);
  CHECK(bad([](auto& o) { o.index = ""; }).find("index name") != std::string::npos);
  CHECK(bad([](auto& o) {
          o.api_key = "k";
          o.username = "u";
        }).find("not both") != std::string::npos);
  CHECK(bad([](auto& o) { o.password = "p"; }).find("username") != std::string::npos);
  CHECK(bad([](auto& o) { o.max_attempts = 0; }).find("max_attempts") != std::string::npos);
  CHECK(bad([](auto& o) { o.timeout_ms = 0; }).find("timeout_ms") != std::string::npos);
  CHECK(bad([](auto& o) { o.max_backoff_ms = 0; }).find("backoff") != std::string::npos);
  CHECK(bad([](auto& o) { o.refresh = "now"; }).find("refresh") != std::string::npos);

  ElasticsearchOptions good = TestOptions(server);
  good.url += "/";  // a trailing slash is fine
  CHECK(OpenElasticsearchIndex(good).ok());
  CHECK(server.request_count() == 0);
}

TEST_CASE("elasticsearch: the index is created with its mapping on first use, once") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(404, "");  // HEAD: missing
  server.Push(200, kCreated);
  server.Push(200, BulkResponse(false, {BulkItem("index", 5, 201)}));
  server.Push(200, BulkResponse(false, {BulkItem("delete", 5, 200, "deleted")}));
  server.Push(200, SearchResponse({}));

  SearchDocument d = Doc(5, kGroup7, 1, 42, "hi");
  REQUIRE(index->Index({&d, 1}).ok());
  MessageId id(5);
  REQUIRE(index->Remove({&id, 1}).ok());
  auto page = index->Search(SearchQuery{"hi", {kGroup7}, 20, MessageId()});
  REQUIRE(page.ok());

  auto requests = server.requests();
  REQUIRE(requests.size() == 5);
  CHECK(requests[0].method == "HEAD");
  CHECK(requests[0].target == "/im-messages");
  CHECK(requests[1].method == "PUT");
  CHECK(requests[1].target == "/im-messages");
  CHECK(requests[1].header("content-type") == "application/json");
  CHECK(Json(requests[1].body) == Json(kExpectedIndexDefinition));
  CHECK(requests[2].target == "/_bulk?refresh=wait_for");
  CHECK(requests[3].target == "/_bulk?refresh=wait_for");
  CHECK(requests[4].target == "/im-messages/_search");
  CHECK_FALSE(requests[0].has_header("authorization"));  // no credentials configured
}

TEST_CASE("elasticsearch: concurrent first calls check and create the index once") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(404, "");
  server.Push(200, kCreated);
  for (int i = 0; i < 4; ++i) server.Push(200, BulkResponse(false, {BulkItem("index", 1, 200)}));

  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      SearchDocument d = Doc(i + 1, kGroup7, static_cast<Seq>(i + 1), 42, "x");
      if (index->Index({&d, 1}).ok()) ok++;
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok.load() == 4);
  int heads = 0, puts = 0, bulks = 0;
  for (const auto& r : server.requests()) {
    heads += r.method == "HEAD";
    puts += r.method == "PUT";
    bulks += r.target.starts_with("/_bulk");
  }
  CHECK(heads == 1);
  CHECK(puts == 1);
  CHECK(bulks == 4);
}

TEST_CASE("elasticsearch: an index created by another process meanwhile is fine") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(404, "");
  server.Push(400, ErrorBody("resource_already_exists_exception", "index [im-messages/Xk2] already exists", 400));
  server.Push(200, BulkResponse(false, {BulkItem("index", 9, 201)}));
  SearchDocument d = Doc(9, kGroup7, 2, 42, "race");
  Status s = index->Index({&d, 1});
  CHECK_MESSAGE(s.ok(), s.ToString());
  CHECK(server.request_count() == 3);
}

TEST_CASE("elasticsearch: a failed index creation is reported and tried again next time") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(404, "");
  server.Push(400, ErrorBody("illegal_argument_exception", "unknown setting [index.foo]", 400));
  SearchDocument d = Doc(9, kGroup7, 2, 42, "x");
  Status s = index->Index({&d, 1});
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("HTTP 400") != std::string::npos);
  CHECK(s.message().find("PUT /im-messages") != std::string::npos);
  CHECK(s.message().find("illegal_argument_exception: unknown setting [index.foo]") != std::string::npos);

  server.Push(200, "");  // HEAD again: it exists now
  server.Push(200, BulkResponse(false, {BulkItem("index", 9, 201)}));
  CHECK(index->Index({&d, 1}).ok());
  auto requests = server.requests();
  REQUIRE(requests.size() == 4);
  CHECK(requests[2].method == "HEAD");
}

TEST_CASE("elasticsearch: Index sends one NDJSON action and source per document") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(200, "");
  server.Push(200, BulkResponse(false, {BulkItem("index", 11, 201), BulkItem("index", 12, 200)}));
  std::vector<SearchDocument> docs{Doc(11, kGroup7, 3, 42, "Hello \"Wörld\"\n\tnext line"),
                                   Doc(12, kDirect, 8, 43, "日本語のテキスト")};
  REQUIRE(index->Index(docs).ok());

  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  std::vector<json::value> expected = IndexLines(docs[0]);
  for (auto& line : IndexLines(docs[1])) expected.push_back(std::move(line));
  CheckBulkBody(requests[1], expected);
  // The exact first action line (what Elasticsearch routes by).
  CHECK(NdjsonLines(requests[1].body)[0] == R"({"index":{"_index":"im-messages","_id":"11"}})");

  // Nothing to do: no request.
  CHECK(index->Index({}).ok());
  CHECK(index->Remove({}).ok());
  CHECK(server.request_count() == 2);
}

TEST_CASE("elasticsearch: search sends the query Elasticsearch expects and maps hits and pages") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  SearchDocument a = Doc(300, kGroup7, 30, 42, "hello world");
  SearchDocument b = Doc(200, kDirect, 20, 43, "Hello wor");
  SearchDocument c = Doc(100, kGroup7, 10, 42, "hello worms");
  server.Push(200, "");
  server.Push(200, SearchResponse({SearchHitJson(a, "<mark>hello</mark> <mark>world</mark>"),
                                   SearchHitJson(b, "<mark>Hello</mark> <mark>wor</mark>"),
                                   SearchHitJson(c, "<mark>hello</mark> <mark>worms</mark>")}));

  auto page = index->Search(SearchQuery{"Hello, WOR!", {kGroup7, kDirect}, 2, MessageId()});
  REQUIRE_MESSAGE(page.ok(), page.status().ToString());
  REQUIRE(page->hits.size() == 2);
  CHECK(page->hits[0].id == a.id);
  CHECK(page->hits[0].conversation == kGroup7);
  CHECK(page->hits[0].seq == 30);
  CHECK(page->hits[0].sender == UserId(42));
  CHECK(page->hits[0].sent_at_ms == a.sent_at_ms);
  CHECK(page->hits[0].highlight == "<mark>hello</mark> <mark>world</mark>");
  CHECK(page->hits[1].id == b.id);
  CHECK(page->hits[1].conversation == kDirect);
  CHECK(page->next_before == b.id);  // limit+1 hits came back: there is another page

  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[1].method == "POST");
  CHECK(requests[1].target == "/im-messages/_search");
  CHECK(requests[1].header("content-type") == "application/json");
  CHECK(Json(requests[1].body) == Json(R"({
    "size": 3,
    "query": {"bool": {
      "filter": [{"terms": {"conversation_id": ["g:7", "d:42:43"]}}],
      "must": [{"match_phrase_prefix": {"text": "hello"}}, {"match_phrase_prefix": {"text": "wor"}}]}},
    "sort": [{"message_id": "desc"}],
    "highlight": {"fields": {"text": {}}, "pre_tags": ["<mark>"], "post_tags": ["</mark>"]},
    "_source": ["message_id", "conversation_id", "seq", "sender_id", "sent_at_ms"],
    "track_total_hits": false
  })"));

  // The next page: a range below the cursor, and a short answer means the last page.
  server.Push(200, SearchResponse({SearchHitJson(c, "<mark>hello</mark> <mark>worms</mark>")}));
  auto last = index->Search(SearchQuery{"Hello, WOR!", {kGroup7, kDirect}, 2, page->next_before});
  REQUIRE(last.ok());
  REQUIRE(last->hits.size() == 1);
  CHECK(last->hits[0].id == c.id);
  CHECK_FALSE(last->next_before.valid());
  requests = server.requests();
  REQUIRE(requests.size() == 3);
  json::value body = Json(requests[2].body);
  CHECK(body.at("query").at("bool").at("filter") == Json(R"([
    {"terms": {"conversation_id": ["g:7", "d:42:43"]}},
    {"range": {"message_id": {"lt": 200}}}])"));
  CHECK(body.at("size").to_number<int64_t>() == 3);
}

TEST_CASE("elasticsearch: exactly limit hits is the last page") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(200, "");
  server.Push(200, SearchResponse({SearchHitJson(Doc(8, kGroup7, 2, 42, "a"), "<mark>a</mark>"),
                                   SearchHitJson(Doc(7, kGroup7, 1, 42, "a"), "<mark>a</mark>")}));
  auto page = index->Search(SearchQuery{"a", {kGroup7}, 2, MessageId()});
  REQUIRE(page.ok());
  CHECK(page->hits.size() == 2);
  CHECK_FALSE(page->next_before.valid());
}

TEST_CASE("elasticsearch: an empty conversation list or query sends nothing") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  auto page = index->Search(SearchQuery{"hello", {}, 20, MessageId()});
  REQUIRE(page.ok());
  CHECK(page->hits.empty());
  CHECK_FALSE(page->next_before.valid());

  auto empty = index->Search(SearchQuery{" ,.!? ", {kGroup7}, 20, MessageId()});
  REQUIRE_FALSE(empty.ok());
  CHECK(empty.status().code() == StatusCode::kInvalidArgument);
  CHECK(empty.status().message() == "empty search query");
  CHECK(server.request_count() == 0);
}

TEST_CASE("elasticsearch: searching a deleted index is an empty page and recreates it next time") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(200, "");
  server.Push(404, ErrorBody("index_not_found_exception", "no such index [im-messages]", 404));
  auto page = index->Search(SearchQuery{"x", {kGroup7}, 20, MessageId()});
  REQUIRE_MESSAGE(page.ok(), page.status().ToString());
  CHECK(page->hits.empty());

  server.Push(404, "");
  server.Push(200, kCreated);
  server.Push(200, SearchResponse({}));
  CHECK(index->Search(SearchQuery{"x", {kGroup7}, 20, MessageId()}).ok());
  auto requests = server.requests();
  REQUIRE(requests.size() == 5);
  CHECK(requests[2].method == "HEAD");
  CHECK(requests[3].method == "PUT");
}

TEST_CASE("elasticsearch: a rejected search is invalid_argument with the reason") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(200, "");
  server.Push(400, ErrorBody("search_phase_execution_exception", "all shards failed", 400));
  auto page = index->Search(SearchQuery{"x", {kGroup7}, 20, MessageId()});
  REQUIRE_FALSE(page.ok());
  CHECK(page.status().code() == StatusCode::kInvalidArgument);
  CHECK(page.status().message().find("search_phase_execution_exception: all shards failed") != std::string::npos);
  CHECK(page.status().message().find("HTTP 400") != std::string::npos);
  CHECK(server.request_count() == 2);  // not retried
}

TEST_CASE("elasticsearch: Remove sends delete actions and a missing document is fine") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(200, "");
  server.Push(200,
              BulkResponse(true, {BulkItem("delete", 21, 200, "deleted"), BulkItem("delete", 22, 404, "not_found")}));
  std::vector<MessageId> ids{MessageId(21), MessageId(22)};
  Status s = index->Remove(ids);
  CHECK_MESSAGE(s.ok(), s.ToString());
  auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CheckBulkBody(requests[1], {Json(R"({"delete":{"_index":"im-messages","_id":"21"}})"),
                              Json(R"({"delete":{"_index":"im-messages","_id":"22"}})")});
}

TEST_CASE("elasticsearch: bulk items rejected with 429 are sent again, alone") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  std::vector<SearchDocument> docs{Doc(31, kGroup7, 1, 42, "one"), Doc(32, kGroup7, 2, 42, "two"),
                                   Doc(33, kGroup7, 3, 42, "three")};
  server.Push(200, "");
  server.Push(200, BulkResponse(true, {BulkItem("index", 31, 201),
                                       BulkItemError(32, 429, "es_rejected_execution_exception",
                                                     "rejected execution of coordinating operation"),
                                       BulkItem("index", 33, 201)}));
  server.Push(200, BulkResponse(false, {BulkItem("index", 32, 201)}));
  Status s = index->Index(docs);
  CHECK_MESSAGE(s.ok(), s.ToString());

  auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(NdjsonLines(requests[1].body).size() == 6);
  CheckBulkBody(requests[2], IndexLines(docs[1]));
}

TEST_CASE("elasticsearch: bulk items still rejected after max_attempts are resource_exhausted") {
  CheckingHttpServer server;
  ElasticsearchOptions o = TestOptions(server);
  o.max_attempts = 2;
  auto index = Open(o);
  std::string rejected = BulkResponse(
      true, {BulkItemError(41, 429, "es_rejected_execution_exception", "rejected execution of write operation")});
  server.Push(200, "");
  server.Push(200, rejected);
  server.Push(200, rejected);
  SearchDocument d = Doc(41, kGroup7, 1, 42, "x");
  Status s = index->Index({&d, 1});
  CHECK(s.code() == StatusCode::kResourceExhausted);
  CHECK(s.message().find("es_rejected_execution_exception") != std::string::npos);
  CHECK(s.message().find("41") != std::string::npos);
  CHECK(server.request_count() == 3);
}

TEST_CASE("elasticsearch: a bulk item rejected with 400 is invalid_argument") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(200, "");
  server.Push(200, BulkResponse(true, {BulkItem("index", 51, 201),
                                       BulkItemError(52, 400, "mapper_parsing_exception",
                                                     "failed to parse field [sent_at_ms] of type [date]")}));
  std::vector<SearchDocument> docs{Doc(51, kGroup7, 1, 42, "ok"), Doc(52, kGroup7, 2, 42, "bad")};
  Status s = index->Index(docs);
  CHECK(s.code() == StatusCode::kInvalidArgument);
  CHECK(s.message().find("message 52") != std::string::npos);
  CHECK(s.message().find("mapper_parsing_exception: failed to parse field [sent_at_ms] of type [date]") !=
        std::string::npos);
  CHECK(server.request_count() == 2);  // not retried
}

TEST_CASE("elasticsearch: HTTP 429 is retried after the Retry-After delay") {
  CheckingHttpServer server;
  ElasticsearchOptions o = TestOptions(server);
  o.max_backoff_ms = 5'000;
  auto index = Open(o);
  server.Push(200, "");
  server.Push(ScriptedResponse{
      429, ErrorBody("es_rejected_execution_exception", "rejected execution of bulk", 429), {{"Retry-After", "1"}}});
  server.Push(200, BulkResponse(false, {BulkItem("index", 61, 201)}));
  SearchDocument d = Doc(61, kGroup7, 1, 42, "x");
  Status s = index->Index({&d, 1});
  CHECK_MESSAGE(s.ok(), s.ToString());
  auto requests = server.requests();
  REQUIRE(requests.size() == 3);
  CHECK(requests[2].body == requests[1].body);
  auto gap = std::chrono::duration_cast<std::chrono::milliseconds>(requests[2].received_at - requests[1].received_at);
  CHECK(gap.count() >= 950);
  CHECK(gap.count() < 4'000);
}

TEST_CASE("elasticsearch: HTTP 429 past max_attempts is resource_exhausted") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));
  server.Push(200, "");
  for (int i = 0; i < 3; ++i) server.Push(429, ErrorBody("es_rejected_execution_exception", "rejected", 429));
  auto page = index->Search(SearchQuery{"x", {kGroup7}, 20, MessageId()});
  REQUIRE_FALSE(page.ok());
  CHECK(page.status().code() == StatusCode::kResourceExhausted);
  CHECK(page.status().message().find("HTTP 429") != std::string::npos);
  CHECK(server.request_count() == 4);
}

TEST_CASE("elasticsearch: HTTP 503 is retried max_attempts times, then unavailable") {
  CheckingHttpServer server;
  auto index = Open(TestOptions(server));  // max_attempts = 3
  server.Push(200, "");
  for (int i = 0; i < 3; ++i) {
    server.Push(503,
                ErrorBody("cluster_block_exception", "blocked by: [SERVICE_UNAVAILABLE/1/state not recovered]", 503));
  }
  SearchDocument d = Doc(71, kGroup7, 1, 42, "x");
  Status s = index->Index({&d, 1});
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(s.message().find("HTTP 503") != std::string::npos);
  CHECK(s.message().find("POST /_bulk") != std::string::npos);
  CHECK(s.message().find("cluster_block_exception") != std::string::npos);
  CHECK(server.request_count() == 4);  // HEAD + 3 attempts
  CHECK(server.unanswered_responses() == 0);
}

TEST_CASE("elasticsearch: rejected credentials are unavailable and not retried") {
  CheckingHttpServer server;
  ElasticsearchOptions o = TestOptions(server);
  o.api_key = "VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==";
  auto index = Open(o);
  server.Push(401, "");  // HEAD: Elasticsearch sends no body
  SearchDocument d = Doc(81, kGroup7, 1, 42, "x");
  Status s = index->Index({&d, 1});
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(s.message().find("elasticsearch rejected the credentials (HTTP 401)") != std::string::npos);
  auto requests = server.requests();
  REQUIRE(requests.size() == 1);  // not retried
  CHECK(requests[0].header("authorization") == "ApiKey " + o.api_key);

  // Basic auth, on a request with a body: Elasticsearch's security_exception.
  CheckingHttpServer server2;
  ElasticsearchOptions b = TestOptions(server2);
  b.username = "elastic";
  b.password = "changeme";
  auto index2 = Open(b);
  server2.Push(200, "");
  server2.Push(ScriptedResponse{
      403,
      ErrorBody("security_exception", "action [indices:data/write/bulk] is unauthorized for user [elastic]", 403),
      {}});
  s = index2->Index({&d, 1});
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(s.message().find("HTTP 403") != std::string::npos);
  CHECK(s.message().find("security_exception") != std::string::npos);
  for (const auto& r : server2.requests()) CHECK(r.header("authorization") == "Basic ZWxhc3RpYzpjaGFuZ2VtZQ==");
  CHECK(server2.request_count() == 2);
}

TEST_CASE("elasticsearch: a refused connection is unavailable after the retries") {
  uint16_t port = 0;
  {
    boost::asio::io_context ioc;
    boost::asio::ip::tcp::acceptor acceptor(ioc, {boost::asio::ip::make_address("127.0.0.1"), 0});
    port = acceptor.local_endpoint().port();
  }  // closed: nothing listens there now
  ElasticsearchOptions o;
  o.url = "http://127.0.0.1:" + std::to_string(port);
  o.max_attempts = 2;
  o.initial_backoff_ms = 1;
  o.max_backoff_ms = 5;
  auto index = Open(o);
  SearchDocument d = Doc(91, kGroup7, 1, 42, "x");
  Status s = index->Index({&d, 1});
  CHECK(s.code() == StatusCode::kUnavailable);
  CHECK(s.message().find("HEAD /im-messages") != std::string::npos);
  CHECK(s.message().find("2 attempts") != std::string::npos);
  auto page = index->Search(SearchQuery{"x", {kGroup7}, 20, MessageId()});
  REQUIRE_FALSE(page.ok());
  CHECK(page.status().code() == StatusCode::kUnavailable);
}

}  // namespace
}  // namespace im::test
