// The SearchIndex conformance suite: the executable form of the contract in include/im/search.h.
#include "im/testing/search_conformance.h"

#include <algorithm>
#include <mutex>
#include <string_view>
#include <thread>

#include "conformance_check.h"

namespace im::testing {
namespace {

using conformance::Fail;
using conformance::StatusOf;

using Opts = SearchConformanceOptions;
using Ids = std::vector<int64_t>;

std::string Str(const Ids& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) s += ",";
    if (i == 20 && ids.size() > 24) {
      s += "… (" + std::to_string(ids.size()) + " ids)";
      break;
    }
    s += std::to_string(ids[i]);
  }
  return s + "]";
}

// `expr` (a Result<Ids>) is ok and holds exactly the ids given after it, e.g. {3, 1}.
#define EXPECT_IDS(expr, ...)                                                                        \
  do {                                                                                               \
    auto im_r_ = (expr);                                                                             \
    if (!im_r_.ok()) return Fail(__FILE__, __LINE__, #expr " ok, got " + im_r_.status().ToString()); \
    const Ids im_want_ = __VA_ARGS__;                                                                \
    if (*im_r_ != im_want_)                                                                          \
      return Fail(__FILE__, __LINE__, #expr " to find " + Str(im_want_) + ", got " + Str(*im_r_));   \
  } while (0)

constexpr TimestampMs kT0 = 1'700'000'000'000;
const ConversationId kA = ConversationId::Group(GroupId(1));
const ConversationId kB = ConversationId::Group(GroupId(2));
const ConversationId kC = ConversationId::Direct(UserId(3), UserId(4));
const ConversationId kD = ConversationId::Direct(UserId(5), UserId(6));

SearchDocument Doc(int64_t id, const ConversationId& c, std::string text) {
  return SearchDocument{MessageId(id), c, static_cast<Seq>(id * 10), UserId(1000 + id), kT0 + id, std::move(text)};
}

Status Put(SearchIndex& index, std::vector<SearchDocument> docs) { return index.Index(docs); }

Status Drop(SearchIndex& index, const Ids& ids) {
  std::vector<MessageId> v;
  for (int64_t id : ids) v.emplace_back(id);
  return index.Remove(v);
}

// Pages through every hit of `text` in `conversations`, `limit` per page, and checks the pages:
// at most `limit` hits each, ids descending across pages (no duplicates), below the cursor, only
// of the listed conversations, and a page before the last is never empty.
Result<Ids> FindAll(SearchIndex& index, const std::string& text, std::vector<ConversationId> conversations,
                    uint32_t limit) {
  SearchQuery query{text, std::move(conversations), limit, MessageId()};
  Ids ids;
  for (int pages = 0;; ++pages) {
    if (pages > 2000) return Fail(__FILE__, __LINE__, "paging to end within 2000 pages");
    auto page = index.Search(query);
    if (!page.ok()) return page.status();
    if (page->hits.size() > limit) {
      return Fail(__FILE__, __LINE__,
                  "at most " + std::to_string(limit) + " hits per page, got " + std::to_string(page->hits.size()));
    }
    for (const SearchHit& hit : page->hits) {
      if (!ids.empty() && hit.id.value >= ids.back()) {
        return Fail(__FILE__, __LINE__,
                    "ids descending across pages, got " + std::to_string(hit.id.value) + " after " +
                        std::to_string(ids.back()));
      }
      if (query.before.valid() && hit.id.value >= query.before.value) {
        return Fail(
            __FILE__, __LINE__,
            "ids below the cursor " + std::to_string(query.before.value) + ", got " + std::to_string(hit.id.value));
      }
      if (std::find(query.conversations.begin(), query.conversations.end(), hit.conversation) ==
          query.conversations.end()) {
        return Fail(__FILE__, __LINE__, "hits only of the listed conversations, got one of " + hit.conversation.str());
      }
      ids.push_back(hit.id.value);
    }
    if (!page->next_before.valid()) return ids;
    if (page->hits.empty()) return Fail(__FILE__, __LINE__, "a page before the last to hold hits");
    query.before = page->next_before;
  }
}

Result<Ids> Find(SearchIndex& index, const std::string& text, std::vector<ConversationId> conversations) {
  return FindAll(index, text, std::move(conversations), 50);
}

// One page of hits.
Result<SearchPage> Page(SearchIndex& index, const std::string& text, std::vector<ConversationId> conversations,
                        uint32_t limit, MessageId before = MessageId()) {
  return index.Search(SearchQuery{text, std::move(conversations), limit, before});
}

Ids IdsOf(const SearchPage& page) {
  Ids ids;
  for (const SearchHit& hit : page.hits) ids.push_back(hit.id.value);
  return ids;
}

Ids Range(int64_t from, int64_t down_to, int64_t step = 1) {
  Ids ids;
  for (int64_t i = from; i >= down_to; i -= step) ids.push_back(i);
  return ids;
}

Status OneWord(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "hello world"), Doc(2, kA, "goodbye moon"), Doc(3, kB, "hello there")}));
  EXPECT_IDS(Find(ix, "hello", {kA}), {1});
  EXPECT_IDS(Find(ix, "moon", {kA}), {2});
  EXPECT_IDS(Find(ix, "world", {kA}), {1});
  EXPECT_IDS(Find(ix, "hello", {kA, kB}), {3, 1});
  EXPECT_IDS(Find(ix, "absent", {kA, kB}), {});
  ASSIGN_OK(SearchPage page, Page(ix, "hello", {kB}, 10));
  EXPECT(page.hits.size() == 1);
  const SearchHit& hit = page.hits[0];
  EXPECT(hit.id == MessageId(3) && hit.conversation == kB);
  EXPECT(hit.seq == 30 && hit.sender == UserId(1003) && hit.sent_at_ms == kT0 + 3);
  EXPECT(!page.next_before.valid());
  ASSIGN_OK(SearchPage none, Page(ix, "absent", {kA}, 10));
  EXPECT(none.hits.empty() && !none.next_before.valid());
  return Status::Ok();
}

Status PrefixMatch(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "searching engines"), Doc(2, kA, "research"), Doc(3, kA, "sea")}));
  EXPECT_IDS(Find(ix, "sear", {kA}), {1});  // a prefix of a word, not a substring
  EXPECT_IDS(Find(ix, "sea", {kA}), {3, 1});
  EXPECT_IDS(Find(ix, "s", {kA}), {3, 1});
  EXPECT_IDS(Find(ix, "engine", {kA}), {1});
  EXPECT_IDS(Find(ix, "r", {kA}), {2});
  EXPECT_IDS(Find(ix, "searchingx", {kA}), {});
  EXPECT_IDS(Find(ix, "arch", {kA}), {});
  return Status::Ok();
}

Status AllWords(SearchIndex& ix) {
  EXPECT_OK(Put(
      ix, {Doc(1, kA, "red apple"), Doc(2, kA, "green apple"), Doc(3, kA, "red car"), Doc(4, kA, "apple pie, red")}));
  EXPECT_IDS(Find(ix, "red apple", {kA}), {4, 1});
  EXPECT_IDS(Find(ix, "apple red", {kA}), {4, 1});
  EXPECT_IDS(Find(ix, "re app", {kA}), {4, 1});
  EXPECT_IDS(Find(ix, "apple", {kA}), {4, 2, 1});
  EXPECT_IDS(Find(ix, "red green", {kA}), {});
  EXPECT_IDS(Find(ix, "red apple pie", {kA}), {4});
  EXPECT_IDS(Find(ix, "red red red", {kA}), {4, 3, 1});
  return Status::Ok();
}

Status CaseInsensitive(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "Hello WORLD"), Doc(2, kA, "hello world"), Doc(3, kA, "HELP")}));
  EXPECT_IDS(Find(ix, "hello", {kA}), {2, 1});
  EXPECT_IDS(Find(ix, "HELLO", {kA}), {2, 1});
  EXPECT_IDS(Find(ix, "wOrLd", {kA}), {2, 1});
  EXPECT_IDS(Find(ix, "HEL wor", {kA}), {2, 1});
  EXPECT_IDS(Find(ix, "help", {kA}), {3});
  EXPECT_IDS(Find(ix, "HE", {kA}), {3, 2, 1});
  return Status::Ok();
}

Status SplitsOnNonLetters(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "foo-bar,baz.qux (hello) alice@example.com snake_case x/y 42nd"), Doc(2, kA, "foobar"),
                     Doc(3, kA, "tab\there\nnewline")}));
  EXPECT_IDS(Find(ix, "bar", {kA}), {1});
  EXPECT_IDS(Find(ix, "qux", {kA}), {1});
  EXPECT_IDS(Find(ix, "hello", {kA}), {1});
  EXPECT_IDS(Find(ix, "example", {kA}), {1});
  EXPECT_IDS(Find(ix, "com", {kA}), {1});
  EXPECT_IDS(Find(ix, "case", {kA}), {1});
  EXPECT_IDS(Find(ix, "y", {kA}), {1});
  EXPECT_IDS(Find(ix, "42", {kA}), {1});
  EXPECT_IDS(Find(ix, "foo", {kA}), {2, 1});
  EXPECT_IDS(Find(ix, "foo-bar", {kA}), {1});  // foo AND bar
  EXPECT_IDS(Find(ix, "baz.qux", {kA}), {1});
  EXPECT_IDS(Find(ix, "here newline", {kA}), {3});
  EXPECT_IDS(Find(ix, "ab", {kA}), {});  // "tab" is one word
  return Status::Ok();
}

Status NonAsciiWords(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "привет мир"), Doc(2, kA, "日本語 テキスト"), Doc(3, kA, "naïve café"),
                     Doc(4, kA, "emoji 🎉party🎉 time")}));
  EXPECT_IDS(Find(ix, "мир", {kA}), {1});
  EXPECT_IDS(Find(ix, "при", {kA}), {1});
  EXPECT_IDS(Find(ix, "日本", {kA}), {2});
  EXPECT_IDS(Find(ix, "テキ", {kA}), {2});
  EXPECT_IDS(Find(ix, "café", {kA}), {3});
  EXPECT_IDS(Find(ix, "caf", {kA}), {3});
  EXPECT_IDS(Find(ix, "naï", {kA}), {3});
  EXPECT_IDS(Find(ix, "party", {kA}), {4});
  EXPECT_IDS(Find(ix, "🎉party", {kA}), {4});
  EXPECT_IDS(Find(ix, "мир naïve", {kA}), {});
  return Status::Ok();
}

Status Diacritics(SearchIndex& ix, const Opts& o) {
  if (!o.folds_diacritics) return Status::Ok();
  EXPECT_OK(Put(ix, {Doc(1, kA, "Café Müller naïve"), Doc(2, kA, "cafe"), Doc(3, kA, "Ångström")}));
  EXPECT_IDS(Find(ix, "cafe", {kA}), {2, 1});
  EXPECT_IDS(Find(ix, "café", {kA}), {2, 1});
  EXPECT_IDS(Find(ix, "CAFÉ", {kA}), {2, 1});
  EXPECT_IDS(Find(ix, "muller", {kA}), {1});
  EXPECT_IDS(Find(ix, "MÜLLER", {kA}), {1});
  EXPECT_IDS(Find(ix, "naive", {kA}), {1});
  EXPECT_IDS(Find(ix, "angstrom", {kA}), {3});
  EXPECT_IDS(Find(ix, "ång", {kA}), {3});
  return Status::Ok();
}

Status ConversationFilter(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "common"), Doc(2, kB, "common"), Doc(3, kC, "common"), Doc(4, kD, "common")}));
  EXPECT_IDS(Find(ix, "common", {kA, kC}), {3, 1});
  EXPECT_IDS(Find(ix, "common", {kB}), {2});
  EXPECT_IDS(Find(ix, "common", {kD, kC, kB, kA}), {4, 3, 2, 1});
  EXPECT_IDS(Find(ix, "common", {kA, kA}), {1});
  EXPECT_IDS(Find(ix, "common", {ConversationId::Group(GroupId(99))}), {});
  EXPECT_IDS(Find(ix, "common", {ConversationId::Direct(UserId(3), UserId(5))}), {});
  ASSIGN_OK(SearchPage none, Page(ix, "common", {}, 10));
  EXPECT(none.hits.empty() && !none.next_before.valid());
  // A long list (a user in many groups).
  std::vector<ConversationId> many;
  for (int64_t g = 1000; g < 3000; ++g) many.push_back(ConversationId::Group(GroupId(g)));
  many.push_back(kC);
  EXPECT_IDS(Find(ix, "common", many), {3});
  many.insert(many.begin() + 500, kB);
  many.push_back(kA);
  EXPECT_IDS(Find(ix, "common", many), {3, 2, 1});
  return Status::Ok();
}

Status OrderAndPaging(SearchIndex& ix) {
  // 60 messages in A, the odd ones match; 10 newer matching ones in B. Indexed out of order.
  std::vector<SearchDocument> docs;
  for (int64_t i = 0; i < 60; ++i) {
    int64_t id = (i * 37) % 60 + 1;
    docs.push_back(Doc(id, kA, id % 2 == 1 ? "page number " + std::to_string(id) : "other text"));
  }
  for (int64_t id = 61; id <= 70; ++id) docs.push_back(Doc(id, kB, "page"));
  for (size_t at = 0; at < docs.size(); at += 25) {
    std::vector<SearchDocument> batch(docs.begin() + at, docs.begin() + std::min(docs.size(), at + 25));
    EXPECT_OK(Put(ix, std::move(batch)));
  }
  // Exactly three full pages: the third is the last (next_before invalid) although it is full.
  ASSIGN_OK(SearchPage p1, Page(ix, "page", {kA}, 10));
  EXPECT_IDS(Result<Ids>(IdsOf(p1)), Range(59, 41, 2));
  EXPECT(p1.next_before.valid());
  ASSIGN_OK(SearchPage p2, Page(ix, "page", {kA}, 10, p1.next_before));
  EXPECT_IDS(Result<Ids>(IdsOf(p2)), Range(39, 21, 2));
  EXPECT(p2.next_before.valid());
  ASSIGN_OK(SearchPage p3, Page(ix, "page", {kA}, 10, p2.next_before));
  EXPECT_IDS(Result<Ids>(IdsOf(p3)), Range(19, 1, 2));
  EXPECT(!p3.next_before.valid());
  // Other page sizes: no duplicates, no gaps.
  EXPECT_IDS(FindAll(ix, "page", {kA}, 7), Range(59, 1, 2));
  EXPECT_IDS(FindAll(ix, "page", {kA}, 1), Range(59, 1, 2));
  EXPECT_IDS(FindAll(ix, "page", {kA}, 29), Range(59, 1, 2));
  EXPECT_IDS(FindAll(ix, "page", {kA}, 31), Range(59, 1, 2));
  EXPECT_IDS(FindAll(ix, "page", {kA, kB}, 10), [] {
    Ids want = Range(70, 61);
    for (int64_t id : Range(59, 1, 2)) want.push_back(id);
    return want;
  }());
  // A cursor that is no hit's id, the first id, and one past the newest.
  ASSIGN_OK(SearchPage mid, Page(ix, "page", {kA}, 3, MessageId(26)));
  EXPECT_IDS(Result<Ids>(IdsOf(mid)), {25, 23, 21});
  EXPECT(mid.next_before.valid());
  ASSIGN_OK(SearchPage tail, Page(ix, "page", {kA}, 3, MessageId(4)));
  EXPECT_IDS(Result<Ids>(IdsOf(tail)), {3, 1});
  EXPECT(!tail.next_before.valid());
  ASSIGN_OK(SearchPage empty, Page(ix, "page", {kA}, 3, MessageId(1)));
  EXPECT(empty.hits.empty() && !empty.next_before.valid());
  ASSIGN_OK(SearchPage top, Page(ix, "page", {kA}, 2, MessageId(1'000'000)));
  EXPECT_IDS(Result<Ids>(IdsOf(top)), {59, 57});
  return Status::Ok();
}

Status UpsertReplaces(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "alpha beta"), Doc(2, kA, "alpha")}));
  EXPECT_IDS(Find(ix, "alpha", {kA}), {2, 1});
  EXPECT_OK(Put(ix, {Doc(1, kA, "gamma")}));
  EXPECT_IDS(Find(ix, "alpha", {kA}), {2});
  EXPECT_IDS(Find(ix, "beta", {kA}), {});
  EXPECT_IDS(Find(ix, "gamma", {kA}), {1});
  // Indexing again may move a message to another conversation, with its other fields.
  SearchDocument moved = Doc(1, kB, "gamma delta");
  moved.seq = 77;
  moved.sender = UserId(55);
  moved.sent_at_ms = kT0 + 999;
  EXPECT_OK(Put(ix, {moved}));
  EXPECT_IDS(Find(ix, "gamma", {kA}), {});
  ASSIGN_OK(SearchPage page, Page(ix, "gamma delta", {kA, kB}, 10));
  EXPECT(page.hits.size() == 1 && page.hits[0].id == MessageId(1) && page.hits[0].conversation == kB);
  EXPECT(page.hits[0].seq == 77 && page.hits[0].sender == UserId(55) && page.hits[0].sent_at_ms == kT0 + 999);
  // One batch holding an id twice: the later document wins.
  EXPECT_OK(Put(ix, {Doc(3, kA, "first version"), Doc(3, kA, "second version")}));
  EXPECT_IDS(Find(ix, "version", {kA}), {3});
  EXPECT_IDS(Find(ix, "first", {kA}), {});
  EXPECT_IDS(Find(ix, "second", {kA}), {3});
  // Indexing the same document again changes nothing.
  EXPECT_OK(Put(ix, {Doc(3, kA, "second version")}));
  EXPECT_IDS(Find(ix, "second", {kA}), {3});
  return Status::Ok();
}

Status RemoveIsIdempotent(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "word one"), Doc(2, kA, "word two"), Doc(3, kB, "word three")}));
  EXPECT_OK(Drop(ix, {2, 999}));
  EXPECT_IDS(Find(ix, "word", {kA, kB}), {3, 1});
  EXPECT_IDS(Find(ix, "two", {kA, kB}), {});
  EXPECT_OK(Drop(ix, {2}));
  EXPECT_OK(Drop(ix, {}));
  EXPECT_OK(Put(ix, {}));
  EXPECT_OK(Drop(ix, {12345}));
  EXPECT_IDS(Find(ix, "word", {kA, kB}), {3, 1});
  EXPECT_OK(Drop(ix, {1, 3, 1}));
  EXPECT_IDS(Find(ix, "word", {kA, kB}), {});
  EXPECT_OK(Put(ix, {Doc(2, kA, "word again")}));
  EXPECT_IDS(Find(ix, "word", {kA, kB}), {2});
  EXPECT_IDS(Find(ix, "two", {kA, kB}), {});
  return Status::Ok();
}

// The highlight of hit `id`, or "<missing hit>".
std::string HighlightOf(const SearchPage& page, int64_t id) {
  for (const SearchHit& hit : page.hits) {
    if (hit.id == MessageId(id)) return hit.highlight;
  }
  return "<missing hit>";
}

std::string WithoutMarks(std::string s) {
  for (std::string_view tag : {"<mark>", "</mark>"}) {
    for (size_t at; (at = s.find(tag)) != std::string::npos;) s.erase(at, tag.size());
  }
  return s;
}

bool Contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

Status Highlights(SearchIndex& ix, const Opts& o) {
  if (!o.highlights) return Status::Ok();
  std::string filler_before, filler_after;
  for (int i = 0; i < 300; ++i) filler_before += "lorem" + std::to_string(i) + " ";
  for (int i = 0; i < 300; ++i) filler_after += " ipsum" + std::to_string(i);
  const std::string text2 = "a <b>bold</b> & quick \"claim\"";
  EXPECT_OK(Put(
      ix, {Doc(1, kA, "the Quick brown fox"), Doc(2, kA, text2), Doc(3, kA, filler_before + "needle" + filler_after)}));
  ASSIGN_OK(SearchPage quick, Page(ix, "quick", {kA}, 10));
  const std::string h1 = HighlightOf(quick, 1);
  EXPECT(Contains(h1, "<mark>Quick</mark>"));
  EXPECT(!Contains(h1, "<mark>brown</mark>") && !Contains(h1, "<mark>the</mark>"));
  EXPECT(Contains(std::string("the Quick brown fox"), WithoutMarks(h1)));
  const std::string h2 = HighlightOf(quick, 2);
  EXPECT(Contains(h2, "<mark>quick</mark>"));
  EXPECT(Contains(h2, "<b>bold</b> &"));  // the text is not escaped
  EXPECT(!Contains(h2, "&amp;") && !Contains(h2, "&lt;"));
  ASSIGN_OK(SearchPage two, Page(ix, "qui FOX", {kA}, 10));  // prefixes mark whole words
  const std::string both = HighlightOf(two, 1);
  EXPECT(Contains(both, "<mark>Quick</mark>") && Contains(both, "<mark>fox</mark>"));
  EXPECT(!Contains(both, "<mark>brown</mark>"));
  ASSIGN_OK(SearchPage needle, Page(ix, "needle", {kA}, 10));
  const std::string h3 = HighlightOf(needle, 3);
  EXPECT(Contains(h3, "<mark>needle</mark>"));
  return Status::Ok();
}

Status OperatorsAreWords(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "foo bar or near"), Doc(2, kA, "x marks the spot"), Doc(3, kA, "and not foo"),
                     Doc(4, kA, "col val")}));
  struct Q {
    const char* text;
    Ids want;
  };
  const Q queries[] = {
      {"\"foo* OR (bar", {1}},
      {"-x", {2}},
      {"NEAR", {1}},
      {"NEAR(foo bar, 2)", {}},
      {"foo AND NOT bar", {}},
      {"NOT foo", {3}},
      {"col:val", {4}},
      {"foo:*", {3, 1}},
      {"^foo", {3, 1}},
      {"foo*", {3, 1}},
      {"foo & !bar", {1}},
      {"'foo' | bar", {1}},
      {"foo <-> bar", {1}},
      {"foo\\", {3, 1}},
      {"{foo}", {3, 1}},
      {"+foo -bar", {1}},
      {"foo~", {3, 1}},
      {"/fo.*/", {3, 1}},
      {"bar)", {1}},
      {"foo\" OR \"x", {}},
      {"'; DROP TABLE x; --", {}},
      {"x' OR '1'='1", {}},
      {"%_x", {2}},
  };
  for (const Q& q : queries) {
    auto got = Find(ix, q.text, {kA});
    if (!got.ok())
      return Fail(__FILE__, __LINE__, std::string("query `") + q.text + "` ok, got " + got.status().ToString());
    if (*got != q.want) {
      return Fail(__FILE__, __LINE__,
                  std::string("query `") + q.text + "` to find " + Str(q.want) + " (its words), got " + Str(*got));
    }
  }
  // Still there after all of that.
  EXPECT_IDS(Find(ix, "foo", {kA}), {3, 1});
  return Status::Ok();
}

Status QueryWithoutWords(SearchIndex& ix) {
  EXPECT_OK(Put(ix, {Doc(1, kA, "something")}));
  for (const char* text : {"", "   ", "\"", "\"\"", "*", "(", "-", "!@#$%^&*()", "“”", "…", "\t\n", "🎉"}) {
    auto got = Page(ix, text, {kA}, 10);
    if (got.status().code() != StatusCode::kInvalidArgument) {
      return Fail(__FILE__, __LINE__,
                  std::string("query `") + text + "` to fail with invalid_argument, got " +
                      (got.ok() ? std::string("ok") : got.status().ToString()));
    }
  }
  // Also with no conversations to search.
  EXPECT_CODE(Page(ix, "", {}, 10), StatusCode::kInvalidArgument);
  return Status::Ok();
}

Status LongQueries(SearchIndex& ix) {
  const std::string long_word(100, 'w');
  EXPECT_OK(Put(ix, {Doc(1, kA, "short " + long_word), Doc(2, kA, std::string(200, 'y'))}));
  EXPECT_IDS(Find(ix, long_word, {kA}), {1});  // cut to 64 bytes: still a prefix of the word
  std::string many_words;
  for (int i = 0; i < 40; ++i) many_words += "short ";
  EXPECT_IDS(Find(ix, many_words, {kA}), {1});
  std::string forty;
  for (int i = 0; i < 40; ++i) forty += "word" + std::to_string(i) + " ";
  EXPECT_IDS(Find(ix, forty, {kA}), {});
  EXPECT_IDS(Find(ix, std::string(10'000, 'y'), {kA}), {2});
  return Status::Ok();
}

Status BulkIndex(SearchIndex& ix) {
  const ConversationId convs[] = {kA, kB, kC};
  std::vector<SearchDocument> docs;
  for (int64_t i = 1; i <= 1000; ++i) {
    docs.push_back(Doc(i, convs[i % 3], "bulk item" + std::to_string(i) + (i % 2 == 0 ? " even" : " odd")));
  }
  EXPECT_OK(Put(ix, std::move(docs)));
  EXPECT_IDS(FindAll(ix, "even", {kA, kB, kC}, 100), Range(1000, 2, 2));
  Ids sixes;
  for (int64_t i = 996; i > 0; i -= 6) sixes.push_back(i);
  EXPECT_IDS(FindAll(ix, "even", {kA}, 50), sixes);
  Ids fives;  // item5, item50-59, item500-599
  for (int64_t i = 1000; i > 0; --i) {
    std::string s = std::to_string(i);
    if (s[0] == '5') fives.push_back(i);
  }
  EXPECT_IDS(FindAll(ix, "item5", {kA, kB, kC}, 40), fives);
  EXPECT_IDS(FindAll(ix, "bulk odd", {kA, kB, kC}, 100), Range(999, 1, 2));
  EXPECT_IDS(Find(ix, "item1000", {kA, kB, kC}), {1000});
  return Status::Ok();
}

Status Concurrent(SearchIndex& ix) {
  constexpr int kThreads = 4, kDocs = 100, kBatch = 10;
  std::mutex mu;
  std::string failure;
  auto fail = [&](const std::string& what) {
    std::lock_guard lock(mu);
    if (failure.empty()) failure = what;
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const ConversationId conv = t % 2 == 0 ? kA : kB;
      const std::string own = "thread" + std::to_string(t) + "word";
      for (int i = 0; i < kDocs; i += kBatch) {
        std::vector<SearchDocument> batch;
        for (int k = i; k < i + kBatch; ++k) batch.push_back(Doc(t * 1000 + k + 1, conv, "shared " + own));
        Status s = ix.Index(batch);
        if (!s.ok()) return fail("Index ok, got " + s.ToString());
        // Read-your-writes, while the other threads write.
        auto mine = FindAll(ix, own, {kA, kB}, 100);
        if (!mine.ok()) return fail("search ok, got " + mine.status().ToString());
        if (mine->size() != static_cast<size_t>(i + kBatch)) {
          return fail(own + ": " + std::to_string(i + kBatch) + " hits, got " + std::to_string(mine->size()));
        }
        auto shared = FindAll(ix, "shared", {kA, kB}, 37);
        if (!shared.ok()) return fail("search ok, got " + shared.status().ToString());
      }
      std::vector<MessageId> removed;
      for (int k = 0; k < kDocs; k += 10) removed.emplace_back(t * 1000 + k + 1);
      Status s = ix.Remove(removed);
      if (!s.ok()) return fail("Remove ok, got " + s.ToString());
    });
  }
  for (auto& th : threads) th.join();
  if (!failure.empty()) return Fail(__FILE__, __LINE__, "no failure in the threads: " + failure);
  ASSIGN_OK(Ids all, FindAll(ix, "shared", {kA, kB}, 100));
  EXPECT(all.size() == kThreads * (kDocs - kDocs / 10));
  for (int t = 0; t < kThreads; ++t) {
    ASSIGN_OK(Ids mine, FindAll(ix, "thread" + std::to_string(t) + "word", {kA, kB}, 100));
    EXPECT(mine.size() == kDocs - kDocs / 10);
    for (int64_t id : mine) EXPECT(id / 1000 == t && id % 10 != 1);
  }
  ASSIGN_OK(Ids evens, FindAll(ix, "shared", {kA}, 100));
  EXPECT(evens.size() == 2 * (kDocs - kDocs / 10));
  return Status::Ok();
}

}  // namespace

std::vector<SearchConformanceCase> SearchConformanceCases(SearchConformanceOptions options) {
  auto with = [options](Status (*f)(SearchIndex&, const Opts&)) {
    return [options, f](SearchIndex& ix) { return f(ix, options); };
  };
  return {
      {"search: one word, hit fields", OneWord},
      {"search: words match as prefixes of words", PrefixMatch},
      {"search: every word must match", AllWords},
      {"search: case-insensitive", CaseInsensitive},
      {"search: words split on anything not a letter or digit", SplitsOnNonLetters},
      {"search: non-ASCII words", NonAsciiWords},
      {"search: diacritics folded (when declared)", with(Diacritics)},
      {"search: only the listed conversations", ConversationFilter},
      {"search: newest first, paging with before and next_before", OrderAndPaging},
      {"search: indexing again replaces", UpsertReplaces},
      {"search: remove, idempotent", RemoveIsIdempotent},
      {"search: highlights mark matched words (when declared)", with(Highlights)},
      {"search: query operators and punctuation are only separators", OperatorsAreWords},
      {"search: a query without words is invalid_argument", QueryWithoutWords},
      {"search: long words and long queries", LongQueries},
      {"search: 1,000 documents in one batch, found in pages", BulkIndex},
      {"search: 4 threads indexing and searching", Concurrent},
  };
}

std::vector<std::string> RunSearchConformance(const std::function<std::shared_ptr<SearchIndex>()>& make_index,
                                              SearchConformanceOptions options) {
  std::vector<std::string> failures;
  for (auto& c : SearchConformanceCases(options)) {
    auto index = make_index();
    Status s = index ? c.run(*index) : Status::Internal("the factory returned no index");
    if (!s.ok()) failures.push_back(c.name + ": " + s.message());
  }
  return failures;
}

}  // namespace im::testing
