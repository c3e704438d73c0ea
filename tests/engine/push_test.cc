// Offline push through the engine (in-process bus, memory store): who gets a push task, what the
// notification says under the recipient's settings, and what the provider's answers do.
#include <doctest/doctest.h>

#include <atomic>
#include <mutex>

#include "common/metrics.h"
#include "im/engine.h"
#include "support/engine_fixture.h"

namespace im {
namespace {

class FakeProvider final : public PushProvider {
 public:
  PushResult Send(const PushNotification& n) override {
    std::lock_guard lock(mu_);
    sent_.push_back(n);
    if (!script_.empty()) {
      PushResult r = script_.front();
      script_.erase(script_.begin());
      return r;
    }
    return PushResult{};
  }
  void Then(PushResult r) {
    std::lock_guard lock(mu_);
    script_.push_back(r);
  }
  std::vector<PushNotification> sent() {
    std::lock_guard lock(mu_);
    return sent_;
  }
  void Clear() {
    std::lock_guard lock(mu_);
    sent_.clear();
  }

 private:
  std::mutex mu_;
  std::vector<PushNotification> sent_;
  std::vector<PushResult> script_;
};

struct PushWorld {
  std::shared_ptr<FakeProvider> apns = std::make_shared<FakeProvider>();
  std::shared_ptr<FakeProvider> fcm = std::make_shared<FakeProvider>();
  // Every reading is 1 ms later: registrations in one test are strictly ordered in time.
  std::shared_ptr<std::atomic<int64_t>> now = std::make_shared<std::atomic<int64_t>>(1'800'000'000'000);
  std::unique_ptr<Engine> engine;
  UserId alice, bob;

  PushWorld() {
    Options o = test::FastOptions();
    o.clock = [now = now] { return now->fetch_add(1) + 1; };
    o.push_offline = true;
    o.apns = apns;
    o.fcm = fcm;
    o.task_retry.initial_backoff_ms = 10;
    o.task_retry.max_attempts = 3;
    engine = Engine::Open(std::move(o)).value();
    alice = test::MustRegister(*engine, "alice");
    bob = test::MustRegister(*engine, "bob");
    REQUIRE(engine->UpdateProfile(alice, "Alice A.").ok());
  }
  void Send(UserId from, const ConversationId& to, const std::string& text) {
    auto ack = engine->Send(from, "dev", SendRequest{to, "", ContentType::kText, text});
    REQUIRE_MESSAGE(ack.ok(), ack.status().ToString());
    REQUIRE(engine->Drain().ok());
  }
};

TEST_CASE("an offline recipient gets one push per registered device, an online one none") {
  PushWorld w;
  REQUIRE(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kApns, "apns-bob", "phone"}).ok());
  REQUIRE(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kFcm, "fcm-bob", "tablet"}).ok());
  auto direct = ConversationId::Direct(w.alice, w.bob);
  w.Send(w.alice, direct, "dinner at eight?");

  auto apns = w.apns->sent();
  REQUIRE(apns.size() == 1);
  CHECK(apns[0].token == "apns-bob");
  CHECK(apns[0].title == "Alice A.");
  CHECK(apns[0].body == "dinner at eight?");
  CHECK(apns[0].conversation_id == direct.str());
  CHECK(apns[0].seq == 1);
  CHECK(apns[0].message_id.valid());
  auto fcm = w.fcm->sent();
  REQUIRE(fcm.size() == 1);
  CHECK(fcm[0].token == "fcm-bob");
  CHECK(fcm[0].platform == PushPlatform::kFcm);
  CHECK(w.alice != w.bob);
  CHECK(w.apns->sent().size() == 1);  // the sender is never pushed

  auto sink = std::make_shared<test::RecordingSink>();
  auto session = w.engine->Attach(w.bob, "phone", sink).value();
  w.apns->Clear();
  w.Send(w.alice, direct, "are you there?");
  CHECK(w.apns->sent().empty());
  CHECK(sink->Of<NewMessageEvent>().size() == 1);
  w.engine->Detach(session);
}

TEST_CASE("push settings: muted users get nothing, previews off hide the text") {
  PushWorld w;
  REQUIRE(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kApns, "apns-bob", ""}).ok());
  auto direct = ConversationId::Direct(w.alice, w.bob);
  CHECK(w.engine->GetPushSettings(w.bob)->show_preview);
  REQUIRE(w.engine->SetPushSettings(w.bob, PushSettings{false, false}).ok());
  w.Send(w.alice, direct, "secret plans");
  REQUIRE(w.apns->sent().size() == 1);
  CHECK(w.apns->sent()[0].body == "New message");
  REQUIRE(w.engine->SetPushSettings(w.bob, PushSettings{true, true}).ok());
  CHECK(w.engine->GetPushSettings(w.bob)->muted);
  w.Send(w.alice, direct, "hello?");
  CHECK(w.apns->sent().size() == 1);
}

TEST_CASE("a group push is titled with the sender and the group, long text is cut") {
  PushWorld w;
  auto group = w.engine->CreateGroup(w.alice, "Climbing", 0, test::OpenGroup()).value();
  REQUIRE(w.engine->JoinGroup(w.bob, group.id).ok());
  REQUIRE(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kApns, "apns-bob", ""}).ok());
  std::string long_text(150, 'a');
  long_text += std::string(40, 'b') + "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9" + std::string(50, 'c');
  w.Send(w.alice, ConversationId::Group(group.id), long_text);
  auto sent = w.apns->sent();
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].title == "Alice A. \u00b7 Climbing");
  CHECK(sent[0].body.size() <= 200 + 3);
  CHECK(sent[0].body.ends_with("\u2026"));
  CHECK(sent[0].body.substr(0, 150) == std::string(150, 'a'));
}

TEST_CASE("a token the service calls invalid is forgotten, a 429 is retried") {
  PushWorld w;
  REQUIRE(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kApns, "dead-token", ""}).ok());
  w.apns->Then(PushResult{PushResult::Kind::kInvalidToken, 410, "Unregistered", 0});
  auto direct = ConversationId::Direct(w.alice, w.bob);
  w.Send(w.alice, direct, "one");
  CHECK(w.engine->ListDeviceTokens(w.bob)->empty());

  REQUIRE(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kFcm, "busy-token", ""}).ok());
  REQUIRE(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kApns, "fine-token", ""}).ok());
  w.apns->Clear();
  uint64_t retries_before = metrics::Default().push_retries.value();
  w.fcm->Then(PushResult{PushResult::Kind::kRetry, 429, "QUOTA_EXCEEDED", 50});
  w.Send(w.alice, direct, "two");
  CHECK(w.fcm->sent().size() == 2);  // the 429, then the retry that got through
  CHECK(w.apns->sent().size() == 1);  // the retry went only to the device that failed
  CHECK(metrics::Default().push_retries.value() == retries_before + 1);
  CHECK(w.engine->ListDeviceTokens(w.bob)->size() == 2);
}

TEST_CASE("device tokens: validation, ownership, moving between users, at most 20 per user") {
  PushWorld w;
  CHECK(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kApns, "", ""}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kApns, "has space", ""}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform{}, "tok", ""}).code() ==
        StatusCode::kInvalidArgument);
  CHECK(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kApns, std::string(4097, 'x'), ""}).code() ==
        StatusCode::kInvalidArgument);

  REQUIRE(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kApns, "shared-phone", ""}).ok());
  // Someone else cannot remove it...
  CHECK(w.engine->UnregisterDeviceToken(w.alice, PushPlatform::kApns, "shared-phone").code() == StatusCode::kNotFound);
  CHECK(w.engine->ListDeviceTokens(w.bob)->size() == 1);
  // ...but registering it (another login on the same phone) moves it.
  REQUIRE(w.engine->RegisterDeviceToken(w.alice, DeviceToken{{}, PushPlatform::kApns, "shared-phone", ""}).ok());
  CHECK(w.engine->ListDeviceTokens(w.bob)->empty());
  CHECK(w.engine->ListDeviceTokens(w.alice)->size() == 1);
  REQUIRE(w.engine->UnregisterDeviceToken(w.alice, PushPlatform::kApns, "shared-phone").ok());
  CHECK(w.engine->ListDeviceTokens(w.alice)->empty());

  for (int i = 0; i < 22; ++i) {
    REQUIRE(w.engine->RegisterDeviceToken(w.bob, DeviceToken{{}, PushPlatform::kFcm, "t" + std::to_string(i), ""}).ok());
  }
  auto tokens = w.engine->ListDeviceTokens(w.bob).value();
  CHECK(tokens.size() == 20);
  CHECK(tokens.front().token == "t2");  // the two oldest went
}

}  // namespace
}  // namespace im
