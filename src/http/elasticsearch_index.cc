// The Elasticsearch/OpenSearch SearchIndex: `_bulk` and `_search` over im::http::Client, JSON
// with Boost.JSON. See include/im/elasticsearch_index.h for the contract.
#include "im/elasticsearch_index.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <random>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "http/http_client.h"

namespace im {
namespace {

namespace json = boost::json;

constexpr uint32_t kMaxLimit = 1000;      // hits per page (SearchQuery::limit is capped to it)
constexpr size_t kMaxBulkActions = 1000;  // documents per `_bulk` request
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kNdjson = "application/x-ndjson";

bool IsSuccess(long status) { return status >= 200 && status < 300; }
bool IsRetriable(long status) { return status == 429 || status == 502 || status == 503 || status == 504; }

std::string Base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(std::max(n, 0)));
  return out;
}

std::optional<json::value> ParseJson(std::string_view text) {
  boost::system::error_code ec;
  json::value value = json::parse(text, ec);
  if (ec) return std::nullopt;
  return value;
}

std::optional<int64_t> GetInt(const json::object& object, std::string_view key) {
  const json::value* v = object.if_contains(key);
  if (!v) return std::nullopt;
  boost::system::error_code ec;
  auto n = v->to_number<int64_t>(ec);
  if (ec) return std::nullopt;
  return n;
}

// "type: reason" of an Elasticsearch `error` member (an object, or a bare string in old versions).
std::string DescribeError(const json::value* error) {
  if (!error) return "";
  if (const auto* s = error->if_string()) return std::string(*s);
  const auto* o = error->if_object();
  if (!o) return "";
  std::string out;
  if (const auto* t = o->if_contains("type"); t && t->is_string()) out = std::string(t->get_string());
  if (const auto* r = o->if_contains("reason"); r && r->is_string()) {
    out += (out.empty() ? "" : ": ") + std::string(r->get_string());
  }
  return out;
}

// The error description of a response body, or its first bytes when it is not Elasticsearch's.
std::string ErrorDetail(std::string_view body) {
  if (auto v = ParseJson(body); v && v->is_object()) {
    std::string d = DescribeError(v->get_object().if_contains("error"));
    if (!d.empty()) return d;
  }
  if (body.size() > 200) return std::string(body.substr(0, 200)) + "…";
  return std::string(body);
}

// The `error.type` of a response body, or "".
std::string ErrorType(std::string_view body) {
  auto v = ParseJson(body);
  if (!v || !v->is_object()) return "";
  const auto* e = v->get_object().if_contains("error");
  if (!e || !e->is_object()) return "";
  const auto* t = e->get_object().if_contains("type");
  return t && t->is_string() ? std::string(t->get_string()) : "";
}

// A valid Elasticsearch index name (the rules of MetadataCreateIndexService, checked up front).
bool ValidIndexName(std::string_view name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  if (name.front() == '-' || name.front() == '_' || name.front() == '+') return false;
  for (unsigned char c : name) {
    if (c <= 0x20 || c == 0x7f || (c >= 'A' && c <= 'Z')) return false;
    if (std::string_view("\\/*?\"<>|,#:").find(static_cast<char>(c)) != std::string_view::npos) return false;
  }
  return true;
}

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

Status ValidateOptions(ElasticsearchOptions& o) {
  while (!o.url.empty() && o.url.back() == '/') o.url.pop_back();
  std::string_view url = o.url;
  size_t scheme = url.starts_with("http://") ? 7 : url.starts_with("https://") ? 8 : 0;
  if (scheme == 0 || url.size() == scheme || url.find_first_of("?# ") != std::string_view::npos || HasControl(url)) {
    return Status::InvalidArgument("elasticsearch url must be http(s)://host[:port][/path], got \"" + o.url + "\"");
  }
  if (!ValidIndexName(o.index)) {
    return Status::InvalidArgument("elasticsearch index name \"" + o.index +
                                   "\" is invalid (lower case, no \\ / * ? \" < > | , # : or spaces, "
                                   "not starting with - _ +)");
  }
  if (!o.api_key.empty() && (!o.username.empty() || !o.password.empty())) {
    return Status::InvalidArgument("elasticsearch: set api_key or username/password, not both");
  }
  if (HasControl(o.api_key)) return Status::InvalidArgument("elasticsearch api_key contains control characters");
  if (o.username.empty() && !o.password.empty()) {
    return Status::InvalidArgument("elasticsearch password given without a username");
  }
  if (o.username.find(':') != std::string::npos) {
    return Status::InvalidArgument("elasticsearch username must not contain ':' (basic auth)");
  }
  if (o.timeout_ms <= 0) return Status::InvalidArgument("elasticsearch timeout_ms must be > 0");
  if (o.max_attempts < 1) return Status::InvalidArgument("elasticsearch max_attempts must be >= 1");
  if (o.initial_backoff_ms < 0 || o.max_backoff_ms < o.initial_backoff_ms) {
    return Status::InvalidArgument("elasticsearch backoff must satisfy 0 <= initial_backoff_ms <= max_backoff_ms");
  }
  if (o.refresh != "" && o.refresh != "true" && o.refresh != "wait_for") {
    return Status::InvalidArgument("elasticsearch refresh must be \"\", \"true\" or \"wait_for\", got \"" + o.refresh +
                                   "\"");
  }
  return Status::Ok();
}

// The settings and mapping of a new index. Words are split on anything that is not a letter or a
// digit, as SearchTerms splits queries (the standard tokenizer would keep "a.b" or "snake_case"
// whole), then lower-cased and folded to ASCII.
std::string IndexDefinition() {
  json::object tokenizer{{"type", "pattern"}, {"pattern", "[^\\p{L}\\p{N}]+"}};
  json::object analyzer{
      {"type", "custom"}, {"tokenizer", "im_words"}, {"filter", json::array{"lowercase", "asciifolding"}}};
  json::object properties{
      {"message_id", {{"type", "long"}}},
      {"conversation_id", {{"type", "keyword"}}},
      {"seq", {{"type", "long"}}},
      {"sender_id", {{"type", "long"}}},
      {"sent_at_ms", {{"type", "date"}, {"format", "epoch_millis"}}},
      {"text", {{"type", "text"}, {"analyzer", "im_text"}}},
  };
  json::object definition{
      {"settings",
       {{"analysis",
         {{"tokenizer", {{"im_words", std::move(tokenizer)}}}, {"analyzer", {{"im_text", std::move(analyzer)}}}}}}},
      {"mappings", {{"dynamic", "strict"}, {"properties", std::move(properties)}}},
  };
  return json::serialize(definition);
}

// One `_bulk` action: its NDJSON lines and the message it is about.
struct BulkAction {
  MessageId id;
  bool is_delete = false;
  std::string lines;
};

class ElasticsearchIndex final : public SearchIndex {
 public:
  explicit ElasticsearchIndex(ElasticsearchOptions options)
      : options_(std::move(options)),
        client_(http::ClientOptions{.http2 = false,
                                    .ca_file = options_.ca_file,
                                    .timeout_ms = options_.timeout_ms,
                                    .connect_timeout_ms = std::min(options_.timeout_ms, 5'000L)}) {
    if (!options_.api_key.empty()) {
      authorization_ = "ApiKey " + options_.api_key;
    } else if (!options_.username.empty()) {
      authorization_ = "Basic " + Base64(options_.username + ":" + options_.password);
    }
    index_path_ = "/" + options_.index;
    bulk_path_ = options_.refresh.empty() ? "/_bulk" : "/_bulk?refresh=" + options_.refresh;
  }

  Status Index(std::span<const SearchDocument> documents) override {
    std::vector<BulkAction> actions;
    actions.reserve(documents.size());
    for (const SearchDocument& d : documents) {
      if (!d.id.valid())
        return Status::InvalidArgument("search document with invalid message id " + std::to_string(d.id.value));
      if (!d.conversation.valid()) {
        return Status::InvalidArgument("search document " + std::to_string(d.id.value) + " has no conversation");
      }
      json::object meta{{"index", {{"_index", options_.index}, {"_id", std::to_string(d.id.value)}}}};
      json::object source{{"message_id", d.id.value},
                          {"conversation_id", d.conversation.str()},
                          {"seq", d.seq},
                          {"sender_id", d.sender.value},
                          {"sent_at_ms", d.sent_at_ms},
                          {"text", d.text}};
      actions.push_back({d.id, false, json::serialize(meta) + "\n" + json::serialize(source) + "\n"});
    }
    return Bulk(std::move(actions), "indexing");
  }

  Status Remove(std::span<const MessageId> ids) override {
    std::vector<BulkAction> actions;
    actions.reserve(ids.size());
    for (MessageId id : ids) {
      if (!id.valid()) return Status::InvalidArgument("cannot remove invalid message id " + std::to_string(id.value));
      json::object meta{{"delete", {{"_index", options_.index}, {"_id", std::to_string(id.value)}}}};
      actions.push_back({id, true, json::serialize(meta) + "\n"});
    }
    return Bulk(std::move(actions), "removing");
  }

  Result<SearchPage> Search(const SearchQuery& query) override {
    std::vector<std::string> words = SearchTerms(query.text);
    if (words.empty()) return Status::InvalidArgument("empty search query");
    if (query.limit == 0) return Status::InvalidArgument("search limit must be at least 1");
    if (query.conversations.empty()) return SearchPage{};
    json::array conversations;
    for (const ConversationId& c : query.conversations) {
      if (!c.valid()) return Status::InvalidArgument("search in an invalid conversation id");
      conversations.emplace_back(c.str());
    }
    IM_RETURN_IF_ERROR(EnsureIndex());

    const uint32_t limit = std::min(query.limit, kMaxLimit);
    json::array filter{{{"terms", {{"conversation_id", std::move(conversations)}}}}};
    if (query.before.valid()) filter.push_back(json::value{{"range", {{"message_id", {{"lt", query.before.value}}}}}});
    json::array must;
    for (const std::string& w : words) must.push_back(json::value{{"match_phrase_prefix", {{"text", w}}}});
    json::object body{
        {"size", limit + 1},
        {"query", {{"bool", {{"filter", std::move(filter)}, {"must", std::move(must)}}}}},
        {"sort", json::array{{{"message_id", "desc"}}}},
        {"highlight", {{"fields", {{"text", json::object{}}}}, {"pre_tags", {"<mark>"}}, {"post_tags", {"</mark>"}}}},
        {"_source", {"message_id", "conversation_id", "seq", "sender_id", "sent_at_ms"}},
        {"track_total_hits", false},
    };
    const std::string path = index_path_ + "/_search";
    const std::string what = "searching index " + options_.index + " (POST " + path + ")";
    IM_ASSIGN_OR_RETURN(http::Response response, Exchange("POST", path, json::serialize(body), kJson, what));
    if (response.status == 404 && ErrorType(response.body) == "index_not_found_exception") {
      ready_.store(false);  // deleted behind our back: the next call creates it again
      return SearchPage{};
    }
    IM_RETURN_IF_ERROR(CheckHttp(response, what));
    return ParseHits(response.body, limit, what);
  }

 private:
  // Sends a request, retrying transport errors and 429/502/503/504 up to max_attempts times.
  // Returns the last response whatever its status; only a transport failure is an error.
  Result<http::Response> Exchange(const std::string& method, const std::string& path, std::string body,
                                  std::string_view content_type, const std::string& what) {
    http::Request request;
    request.method = method;
    request.url = options_.url + path;
    if (!authorization_.empty()) request.headers.emplace_back("Authorization", authorization_);
    if (!body.empty()) request.headers.emplace_back("Content-Type", std::string(content_type));
    request.body = std::move(body);
    for (int attempt = 1;; ++attempt) {
      Result<http::Response> response = client_.Send(request);
      if (response.ok() && !IsRetriable(response->status)) return response;
      if (attempt >= options_.max_attempts) {
        if (response.ok()) return response;
        return Status::Unavailable("elasticsearch unreachable " + what + " after " + std::to_string(attempt) +
                                   " attempts: " + response.status().message());
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(Backoff(attempt, response.ok() ? http::RetryAfterMs(*response) : 0)));
    }
  }

  // The delay before retry number `attempt` (1: the first retry): exponential from
  // initial_backoff_ms with jitter (half to all of it), at least `retry_after_ms`, at most max_backoff_ms.
  int64_t Backoff(int attempt, int64_t retry_after_ms) const {
    int64_t base = options_.initial_backoff_ms;
    for (int i = 1; i < attempt && base < options_.max_backoff_ms; ++i) base *= 2;
    base = std::min(base, options_.max_backoff_ms);
    thread_local std::mt19937_64 rng{std::random_device{}()};
    int64_t delay = base / 2 + std::uniform_int_distribution<int64_t>(0, base - base / 2)(rng);
    return std::min(std::max(delay, retry_after_ms), options_.max_backoff_ms);
  }

  // ok for 2xx; otherwise the Status the header promises for this HTTP status.
  Status CheckHttp(const http::Response& r, const std::string& what) const {
    if (IsSuccess(r.status)) return Status::Ok();
    const std::string http = "(HTTP " + std::to_string(r.status) + ")";
    const std::string detail = ErrorDetail(r.body);
    const std::string suffix = detail.empty() ? "" : ": " + detail;
    const std::string attempts = " after " + std::to_string(options_.max_attempts) + " attempts";
    if (r.status == 401 || r.status == 403) {
      return Status::Unavailable("elasticsearch rejected the credentials " + http + " " + what + suffix);
    }
    if (r.status == 429)
      return Status::ResourceExhausted("elasticsearch is overloaded " + http + " " + what + attempts + suffix);
    if (IsRetriable(r.status))
      return Status::Unavailable("elasticsearch unavailable " + http + " " + what + attempts + suffix);
    if (r.status >= 400 && r.status < 500)
      return Status::InvalidArgument("elasticsearch rejected " + what + " " + http + suffix);
    return Status::Unavailable("elasticsearch failed " + http + " " + what + suffix);
  }

  // HEAD /<index>, then PUT it when missing; once per object (until a search finds it gone).
  Status EnsureIndex() {
    if (ready_.load(std::memory_order_acquire)) return Status::Ok();
    std::lock_guard lock(init_mu_);
    if (ready_.load(std::memory_order_acquire)) return Status::Ok();
    const std::string check = "checking index " + options_.index + " (HEAD " + index_path_ + ")";
    IM_ASSIGN_OR_RETURN(http::Response head, Exchange("HEAD", index_path_, "", kJson, check));
    if (head.status == 404) {
      const std::string create = "creating index " + options_.index + " (PUT " + index_path_ + ")";
      IM_ASSIGN_OR_RETURN(http::Response put, Exchange("PUT", index_path_, IndexDefinition(), kJson, create));
      // Another process created it between our HEAD and PUT: fine, its mapping is ours.
      bool raced = put.status == 400 && ErrorType(put.body) == "resource_already_exists_exception";
      if (!raced) IM_RETURN_IF_ERROR(CheckHttp(put, create));
    } else {
      IM_RETURN_IF_ERROR(CheckHttp(head, check));
    }
    ready_.store(true, std::memory_order_release);
    return Status::Ok();
  }

  Status Bulk(std::vector<BulkAction> actions, std::string_view verb) {
    if (actions.empty()) return Status::Ok();
    IM_RETURN_IF_ERROR(EnsureIndex());
    for (size_t begin = 0; begin < actions.size(); begin += kMaxBulkActions) {
      std::vector<const BulkAction*> chunk;
      for (size_t i = begin; i < std::min(actions.size(), begin + kMaxBulkActions); ++i) chunk.push_back(&actions[i]);
      IM_RETURN_IF_ERROR(BulkChunk(std::move(chunk), verb));
    }
    return Status::Ok();
  }

  // One `_bulk` request; items rejected with 429/5xx are sent again (alone) up to max_attempts.
  Status BulkChunk(std::vector<const BulkAction*> pending, std::string_view verb) {
    for (int attempt = 1;; ++attempt) {
      std::string body;
      for (const BulkAction* a : pending) body += a->lines;
      const std::string what =
          std::string(verb) + " " + std::to_string(pending.size()) + " messages (POST " + bulk_path_ + ")";
      IM_ASSIGN_OR_RETURN(http::Response response, Exchange("POST", bulk_path_, std::move(body), kNdjson, what));
      IM_RETURN_IF_ERROR(CheckHttp(response, what));

      auto parsed = ParseJson(response.body);
      const json::object* result = parsed ? parsed->if_object() : nullptr;
      if (!result) return Status::Internal("elasticsearch sent a malformed bulk response " + what);
      if (const auto* errors = result->if_contains("errors"); errors && errors->is_bool() && !errors->get_bool()) {
        return Status::Ok();
      }
      const auto* items = result->if_contains("items");
      if (!items || !items->is_array() || items->get_array().size() != pending.size()) {
        return Status::Internal("elasticsearch sent a bulk response without one item per action " + what);
      }

      std::vector<const BulkAction*> failed;
      int64_t failed_status = 0;
      std::string failed_detail;
      for (size_t i = 0; i < pending.size(); ++i) {
        const json::value& item = items->get_array()[i];
        const json::object* op = item.is_object() && item.get_object().size() == 1
                                     ? item.get_object().begin()->value().if_object()
                                     : nullptr;
        std::optional<int64_t> status = op ? GetInt(*op, "status") : std::nullopt;
        if (!status) return Status::Internal("elasticsearch sent a bulk item without a status " + what);
        if (*status >= 200 && *status < 300) continue;
        if (*status == 404 && pending[i]->is_delete) continue;  // it was not indexed: Remove is idempotent
        std::string detail = DescribeError(op->if_contains("error"));
        std::string message =
            std::to_string(pending[i]->id.value) + " (item status " + std::to_string(*status) + ") " + what;
        if (*status == 429 || *status >= 500) {
          failed.push_back(pending[i]);
          if (failed_status != 429) failed_status = *status;
          failed_detail = message + ": " + detail;
          continue;
        }
        if (*status == 401 || *status == 403) {
          return Status::Unavailable("elasticsearch rejected the credentials for message " + message + ": " +
                                          detail);
        }
        return Status::InvalidArgument("elasticsearch rejected message " + message + ": " + detail);
      }
      if (failed.empty()) return Status::Ok();
      if (attempt >= options_.max_attempts) {
        std::string m = std::to_string(failed.size()) + " bulk items still failing after " + std::to_string(attempt) +
                        " attempts, last message " + failed_detail;
        if (failed_status == 429) return Status::ResourceExhausted("elasticsearch is overloaded: " + m);
        return Status::Unavailable("elasticsearch unavailable: " + m);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(Backoff(attempt, 0)));
      pending = std::move(failed);
    }
  }

  Result<SearchPage> ParseHits(std::string_view text, uint32_t limit, const std::string& what) const {
    const Status malformed = Status::Internal("elasticsearch sent a malformed search response " + what);
    auto parsed = ParseJson(text);
    const json::object* root = parsed ? parsed->if_object() : nullptr;
    const json::value* outer = root ? root->if_contains("hits") : nullptr;
    const json::value* inner = outer && outer->is_object() ? outer->get_object().if_contains("hits") : nullptr;
    if (!inner || !inner->is_array()) return malformed;

    SearchPage page;
    for (const json::value& h : inner->get_array()) {
      const json::value* source = h.is_object() ? h.get_object().if_contains("_source") : nullptr;
      if (!source || !source->is_object()) return malformed;
      const json::object& s = source->get_object();
      auto id = GetInt(s, "message_id");
      auto seq = GetInt(s, "seq");
      auto sender = GetInt(s, "sender_id");
      auto sent_at = GetInt(s, "sent_at_ms");
      const json::value* conversation = s.if_contains("conversation_id");
      if (!id || !seq || !sender || !sent_at || !conversation || !conversation->is_string()) return malformed;
      auto conversation_id = ConversationId::Parse(conversation->get_string());
      if (!conversation_id) return malformed;

      SearchHit hit;
      hit.id = MessageId(*id);
      hit.conversation = std::move(*conversation_id);
      hit.seq = static_cast<Seq>(*seq);
      hit.sender = UserId(*sender);
      hit.sent_at_ms = *sent_at;
      if (const auto* hl = h.get_object().if_contains("highlight"); hl && hl->is_object()) {
        const json::value* fragments = hl->get_object().if_contains("text");
        if (fragments && fragments->is_array() && !fragments->get_array().empty() &&
            fragments->get_array()[0].is_string()) {
          hit.highlight = std::string(fragments->get_array()[0].get_string());
        }
      }
      page.hits.push_back(std::move(hit));
    }
    if (page.hits.size() > limit) {
      page.hits.resize(limit);
      page.next_before = page.hits.back().id;
    }
    return page;
  }

  const ElasticsearchOptions options_;
  http::Client client_;
  std::string authorization_;  // the Authorization header's value, or empty
  std::string index_path_;     // "/<index>"
  std::string bulk_path_;      // "/_bulk[?refresh=…]"
  std::mutex init_mu_;         // serializes index creation
  std::atomic<bool> ready_{false};
};

}  // namespace

Result<std::shared_ptr<SearchIndex>> OpenElasticsearchIndex(ElasticsearchOptions options) {
  IM_RETURN_IF_ERROR(ValidateOptions(options));
  return std::shared_ptr<SearchIndex>(std::make_shared<ElasticsearchIndex>(std::move(options)));
}

}  // namespace im
