// RemoteStore's device-token, push-settings and dead-letter calls: which are repeated on
// unavailable (the idempotent ones) and which are sent once (AddDeadLetter, DeleteDeadLetter).
#include <doctest/doctest.h>

#include <atomic>

#include "grpc/repo_fixture.h"

namespace im::test {
namespace {

// Answers unavailable to the first `failures` calls of each method below, then forwards.
class FlakyStore : public StoreWrapper {
 public:
  FlakyStore(std::shared_ptr<Store> target, int failures) : StoreWrapper(std::move(target)), failures_(failures) {}

  Status PutDeviceToken(const DeviceToken& t) override {
    if (++put_token_calls <= failures_) return Unavailable();
    return StoreWrapper::PutDeviceToken(t);
  }
  Status DeleteDeviceToken(PushPlatform p, const std::string& t) override {
    if (++delete_token_calls <= failures_) return Unavailable();
    return StoreWrapper::DeleteDeviceToken(p, t);
  }
  Status PutPushSettings(UserId u, const PushSettings& s) override {
    if (++put_settings_calls <= failures_) return Unavailable();
    return StoreWrapper::PutPushSettings(u, s);
  }
  Result<std::vector<DeadLetter>> ListDeadLetters(int64_t after, uint32_t limit) override {
    if (++list_letters_calls <= failures_) return Unavailable();
    return StoreWrapper::ListDeadLetters(after, limit);
  }
  Result<int64_t> AddDeadLetter(const DeadLetter& d) override {
    if (++add_letter_calls <= failures_) return Unavailable();
    return StoreWrapper::AddDeadLetter(d);
  }
  Status DeleteDeadLetter(int64_t id) override {
    if (++delete_letter_calls <= failures_) return Unavailable();
    return StoreWrapper::DeleteDeadLetter(id);
  }

  std::atomic<int> put_token_calls{0}, delete_token_calls{0}, put_settings_calls{0}, list_letters_calls{0},
      add_letter_calls{0}, delete_letter_calls{0};

 private:
  static Status Unavailable() { return Status::Unavailable("flaky store: try again"); }
  const int failures_;
};

TEST_CASE("remote store: token and settings writes are retried on unavailable, dead-letter writes are not") {
  auto backing = NewMemoryStore();
  auto flaky = std::make_shared<FlakyStore>(backing, 2);
  auto server = Serve(flaky);
  auto options = RemoteOptions({server->port()});
  options.initial_backoff_ms = 5;
  options.max_backoff_ms = 20;
  auto remote = Connect(options);
  User alice = backing->CreateUser(NewUser{"alice", "Alice", "h", 1}).value();

  // Idempotent: repeated until the store answers.
  CHECK(remote->PutDeviceToken(DeviceToken{alice.id, PushPlatform::kFcm, "tok", "web", 1}).ok());
  CHECK(flaky->put_token_calls.load() == 3);
  CHECK(remote->PutPushSettings(alice.id, PushSettings{true, false}).ok());
  CHECK(flaky->put_settings_calls.load() == 3);
  CHECK(remote->DeleteDeviceToken(PushPlatform::kFcm, "tok").ok());
  CHECK(flaky->delete_token_calls.load() == 3);
  CHECK(remote->ListDeadLetters(0, 10).ok());
  CHECK(flaky->list_letters_calls.load() == 3);

  // Not idempotent: one attempt, its unavailable reaches the caller, nothing is stored.
  DeadLetter letter{0, "im-task", "k", "p", "e", 3, 1};
  CHECK(remote->AddDeadLetter(letter).status().code() == StatusCode::kUnavailable);
  CHECK(flaky->add_letter_calls.load() == 1);
  CHECK(backing->ListDeadLetters(0, 10).value().empty());
  CHECK(remote->AddDeadLetter(letter).status().code() == StatusCode::kUnavailable);
  auto id = remote->AddDeadLetter(letter);
  REQUIRE_MESSAGE(id.ok(), id.status().ToString());
  CHECK(flaky->add_letter_calls.load() == 3);
  CHECK(backing->ListDeadLetters(0, 10).value().size() == 1);
  CHECK(remote->DeleteDeadLetter(*id).code() == StatusCode::kUnavailable);
  CHECK(flaky->delete_letter_calls.load() == 1);
}

TEST_CASE("remote store: an unknown push platform is refused by the store behind the server, never stored") {
  auto backing = NewMemoryStore();
  auto server = Serve(backing);
  auto remote = Connect(RemoteOptions({server->port()}));
  User alice = backing->CreateUser(NewUser{"alice", "Alice", "h", 1}).value();
  auto bad = DeviceToken{alice.id, static_cast<PushPlatform>(7), "tok", "d", 1};
  CHECK(remote->PutDeviceToken(bad).code() == StatusCode::kInvalidArgument);
  CHECK(remote->DeleteDeviceToken(static_cast<PushPlatform>(7), "tok").ok());
  CHECK(backing->ListDeviceTokens(alice.id).value().empty());
}

// A store written against the 1.0 header: the new methods keep Store's default bodies.
class OldStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  Result<PushSettings> GetPushSettings(UserId u) override { return Store::GetPushSettings(u); }
  Result<int64_t> AddDeadLetter(const DeadLetter& d) override { return Store::AddDeadLetter(d); }
};

TEST_CASE("remote store: a store without push or dead letters answers not_supported through the server") {
  auto server = Serve(std::make_shared<OldStore>(NewMemoryStore()));
  auto remote = Connect(RemoteOptions({server->port()}));
  CHECK(remote->GetPushSettings(UserId(1)).status().code() == StatusCode::kNotSupported);
  CHECK(remote->AddDeadLetter(DeadLetter{}).status().code() == StatusCode::kNotSupported);
}

}  // namespace
}  // namespace im::test
