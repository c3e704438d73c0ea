// The SearchIndex conformance suite catches broken indexes: each case below wraps the SQLite index
// in a deliberate violation of one rule of include/im/search.h and expects the case for that rule
// to fail (a suite that cannot fail proves nothing).
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "im/sqlite_search.h"
#include "im/testing/search_conformance.h"
#include "support/temp_db.h"

namespace {

using im::MessageId;
using im::Result;
using im::SearchDocument;
using im::SearchPage;
using im::SearchQuery;
using im::Status;

im::test::TempDbDir temp_dbs("im-search-check");

std::shared_ptr<im::SearchIndex> OpenFresh() {
  auto index = im::OpenSqliteSearchIndex({.path = temp_dbs.NewPath("search.db"), .synchronous = false});
  REQUIRE_MESSAGE(index.ok(), index.status().ToString());
  return *index;
}

// Forwards to a real index, letting a test bend one behaviour.
class Bent : public im::SearchIndex {
 public:
  std::shared_ptr<im::SearchIndex> base = OpenFresh();
  std::function<Status(Bent&, std::span<const SearchDocument>)> index;
  std::function<Status(Bent&, std::span<const MessageId>)> remove;
  std::function<Result<SearchPage>(Bent&, const SearchQuery&)> search;
  std::set<im::ConversationId> seen;  // every conversation indexed so far
  std::set<int64_t> ids;              // every id indexed so far
  std::mutex mu;

  Status Index(std::span<const SearchDocument> docs) override {
    {
      std::lock_guard lock(mu);
      for (const auto& d : docs) seen.insert(d.conversation), ids.insert(d.id.value);
    }
    return index ? index(*this, docs) : base->Index(docs);
  }
  Status Remove(std::span<const MessageId> v) override { return remove ? remove(*this, v) : base->Remove(v); }
  Result<SearchPage> Search(const SearchQuery& q) override { return search ? search(*this, q) : base->Search(q); }
};

// What the cases run by the last Failing() said.
std::string last_report;

// Runs every case on a fresh bent index; returns the names of the failing cases.
std::set<std::string> Failing(const std::function<void(Bent&)>& bend, im::testing::SearchConformanceOptions o = {}) {
  std::set<std::string> failing;
  last_report.clear();
  for (auto& c : im::testing::SearchConformanceCases(o)) {
    Bent bent;
    bend(bent);
    Status s = c.run(bent);
    if (!s.ok()) {
      failing.insert(c.name);
      last_report += c.name + ": " + s.message() + "\n";
    }
  }
  return failing;
}

const std::string kOneWord = "search: one word, hit fields";
const std::string kPrefix = "search: words match as prefixes of words";
const std::string kAllWords = "search: every word must match";
const std::string kConversations = "search: only the listed conversations";
const std::string kPaging = "search: newest first, paging with before and next_before";
const std::string kUpsert = "search: indexing again replaces";
const std::string kRemove = "search: remove, idempotent";
const std::string kHighlights = "search: highlights mark matched words (when declared)";
const std::string kDiacritics = "search: diacritics folded (when declared)";
const std::string kOperators = "search: query operators and punctuation are only separators";
const std::string kNoWords = "search: a query without words is invalid_argument";
const std::string kBulk = "search: 1,000 documents in one batch, found in pages";
const std::string kConcurrent = "search: 4 threads indexing and searching";
const std::string kCase = "search: case-insensitive";

// `failing` (from Failing()) holds the case `name`.
#define CHECK_CATCHES(failing, name)                                                      \
  do {                                                                                    \
    auto failing_ = (failing);                                                            \
    CHECK_MESSAGE(failing_.count(name) == 1, "the failing cases said:\n" << last_report); \
  } while (0)

}  // namespace

TEST_CASE("search conformance: the real index passes, so the failures below come from the bending") {
  CHECK_MESSAGE(Failing([](Bent&) {}).empty(), last_report);
}

TEST_CASE("search conformance: catches an index that ignores the conversation list") {
  auto failing = Failing([](Bent& b) {
    b.search = [](Bent& self, const SearchQuery& q) {
      SearchQuery all = q;
      std::lock_guard lock(self.mu);
      all.conversations.assign(self.seen.begin(), self.seen.end());
      if (all.conversations.empty()) all.conversations = q.conversations;
      return self.base->Search(all);
    };
  });
  CHECK_CATCHES(failing, kConversations);
  CHECK_CATCHES(failing, kOneWord);
}

TEST_CASE("search conformance: catches oldest-first order, missing and extra cursors, overfull pages") {
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.search = [](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
                    auto page = self.base->Search(q);
                    if (page.ok()) std::reverse(page->hits.begin(), page->hits.end());
                    return page;
                  };
                }),
                kPaging);
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.search = [](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
                    auto page = self.base->Search(q);
                    if (page.ok()) page->next_before = MessageId();
                    return page;
                  };
                }),
                kPaging);
  // Not fetching limit + 1: a full last page still says "more".
  auto failing = Failing([](Bent& b) {
    b.search = [](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
      auto page = self.base->Search(q);
      if (page.ok() && page->hits.size() == q.limit) page->next_before = page->hits.back().id;
      return page;
    };
  });
  CHECK_CATCHES(failing, kPaging);
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.search = [](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
                    SearchQuery more = q;
                    more.limit = q.limit + 1;
                    auto page = self.base->Search(more);
                    if (page.ok()) page->next_before = page->hits.empty() ? MessageId() : page->hits.back().id;
                    return page;
                  };
                }),
                kBulk);
}

TEST_CASE("search conformance: catches OR semantics, exact words and case-sensitive words") {
  // Any word matching is enough: the union of one search per word.
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.search = [](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
                    auto terms = im::SearchTerms(q.text);
                    if (terms.empty()) return self.base->Search(q);
                    std::map<int64_t, im::SearchHit, std::greater<>> hits;
                    for (const auto& t : terms) {
                      auto page = self.base->Search({t, q.conversations, 1000, q.before});
                      if (!page.ok()) return page;
                      for (auto& h : page->hits) hits.emplace(h.id.value, h);
                    }
                    SearchPage out;
                    for (auto& [id, h] : hits) {
                      if (out.hits.size() == q.limit) {
                        out.next_before = out.hits.back().id;
                        break;
                      }
                      out.hits.push_back(h);
                    }
                    return out;
                  };
                }),
                kAllWords);
  // Whole words only: a hit counts when every term is marked in full in the highlight.
  auto exact = [](bool fold_case) {
    return [fold_case](Bent& b) {
      b.search = [fold_case](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
        auto page = self.base->Search(q);
        if (!page.ok()) return page;
        auto lower = [](std::string s) {
          for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
          return s;
        };
        std::vector<im::SearchHit> kept;
        for (auto& h : page->hits) {
          bool all = true;
          for (const auto& t : im::SearchTerms(q.text)) {
            std::string original;  // the query's spelling of the term
            size_t at = lower(q.text).find(t);
            original = at == std::string::npos ? t : q.text.substr(at, t.size());
            std::string marked = "<mark>" + (fold_case ? t : original) + "</mark>";
            all = all && (fold_case ? lower(h.highlight) : h.highlight).find(marked) != std::string::npos;
          }
          if (all) kept.push_back(h);
        }
        page->hits = kept;
        return page;
      };
    };
  };
  CHECK_CATCHES(Failing(exact(true)), kPrefix);
  CHECK_CATCHES(Failing(exact(false)), kCase);
}

TEST_CASE("search conformance: catches appends instead of upserts, and removals that do nothing") {
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.index = [written = std::make_shared<std::set<int64_t>>()](Bent& self,
                                                                              std::span<const SearchDocument> docs) {
                    std::vector<SearchDocument> fresh;
                    for (const auto& d : docs) {
                      // Only the first document ever given for an id is written.
                      if (written->insert(d.id.value).second) fresh.push_back(d);
                    }
                    return self.base->Index(fresh);
                  };
                }),
                kUpsert);
  CHECK_CATCHES(Failing([](Bent& b) { b.remove = [](Bent&, std::span<const MessageId>) { return Status::Ok(); }; }),
                kRemove);
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.remove = [](Bent& self, std::span<const MessageId> v) {
                    std::lock_guard lock(self.mu);
                    for (auto id : v) {
                      if (self.ids.count(id.value) == 0) return Status::NotFound("unknown id");
                    }
                    return self.base->Remove(v);
                  };
                }),
                kRemove);
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.index = [](Bent& self, std::span<const SearchDocument> docs) {
                    return self.base->Index(docs.subspan(0, std::min<size_t>(docs.size(), 500)));
                  };
                }),
                kBulk);
}

TEST_CASE("search conformance: catches missing highlights and folding, errors on odd queries") {
  auto no_marks = [](Bent& b) {
    b.search = [](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
      auto page = self.base->Search(q);
      if (page.ok())
        for (auto& h : page->hits) h.highlight.clear();
      return page;
    };
  };
  CHECK_CATCHES(Failing(no_marks), kHighlights);
  CHECK_MESSAGE(Failing(no_marks, {.highlights = false}).empty(), last_report);  // not declared: not checked
  // No folding: "cafe" no longer finds "café".
  auto no_folding = [](Bent& b) {
    b.search = [](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
      auto page = self.base->Search(q);
      bool ascii =
          std::none_of(q.text.begin(), q.text.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
      if (page.ok() && ascii) {
        std::erase_if(page->hits, [](const im::SearchHit& h) { return h.highlight.find("\xc3") != std::string::npos; });
      }
      return page;
    };
  };
  CHECK_CATCHES(Failing(no_folding), kDiacritics);
  CHECK(Failing(no_folding, {.folds_diacritics = false}).count(kDiacritics) == 0);
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.search = [](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
                    if (q.text.find_first_of("\"*()-:") != std::string::npos) return Status::InvalidArgument("syntax");
                    return self.base->Search(q);
                  };
                }),
                kOperators);
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.search = [](Bent& self, const SearchQuery& q) -> Result<SearchPage> {
                    if (im::SearchTerms(q.text).empty()) return SearchPage{};
                    return self.base->Search(q);
                  };
                }),
                kNoWords);
}

TEST_CASE("search conformance: catches an index that loses concurrent writes") {
  CHECK_CATCHES(Failing([](Bent& b) {
                  b.index = [](Bent& self, std::span<const SearchDocument> docs) {
                    static std::atomic<int> calls{0};
                    if (docs.size() == 10 && calls++ % 7 == 3) return Status::Ok();  // silently dropped
                    return self.base->Index(docs);
                  };
                }),
                kConcurrent);
}
