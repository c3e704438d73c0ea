// RemoteStore under network failures: deadlines, retries, load balancing, server restarts.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "grpc/repo_fixture.h"

namespace im::test {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MsSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

NewMessage Msg(const ConversationId& c, UserId sender, int i) {
  return NewMessage{MessageId(1000 + i), c, sender, "key-" + std::to_string(i), ContentType::kText, "m", 1};
}

// GetUser blocks until Release() (or 10 s), like a store stuck on a lock or a slow disk.
class StallingStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  Result<User> GetUser(UserId id) override {
    calls++;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return released_; });
    return StoreWrapper::GetUser(id);
  }
  void Release() {
    std::lock_guard lock(mu_);
    released_ = true;
    cv_.notify_all();
  }
  std::atomic<int> calls{0};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
};

TEST_CASE("remote store: a stalled server gives deadline_exceeded, not retried") {
  auto stalling = std::make_shared<StallingStore>(NewMemoryStore());
  auto server = Serve(stalling);
  auto options = RemoteOptions({server->port()});
  options.deadline_ms = 200;
  auto remote = Connect(options);
  auto user = remote->CreateUser(NewUser{"alice", "Alice", "h", 1});
  REQUIRE(user.ok());

  auto start = Clock::now();
  auto r = remote->GetUser(user->id);
  int64_t elapsed = MsSince(start);
  CHECK(r.status().code() == StatusCode::kDeadlineExceeded);
  CHECK(elapsed >= 190);
  CHECK(elapsed < 3000);
  CHECK(stalling->calls.load() == 1);  // deadline_exceeded is never retried
  stalling->Release();
  // Other calls are not held up by the stalled one.
  CHECK(remote->GetCredentials("alice").ok());
}

TEST_CASE("remote store: two servers over one store, one stopped mid-stream, appends keep succeeding") {
  auto shared = NewMemoryStore();
  auto via_a = std::make_shared<CountingStore>(shared);
  auto via_b = std::make_shared<CountingStore>(shared);
  auto server_a = Serve(via_a);
  auto server_b = Serve(via_b);
  auto options = RemoteOptions({server_a->port(), server_b->port()});
  options.max_attempts = 8;
  options.initial_backoff_ms = 10;
  options.max_backoff_ms = 200;
  auto remote = Connect(options);

  auto alice = remote->CreateUser(NewUser{"alice", "Alice", "h", 1});
  auto bob = remote->CreateUser(NewUser{"bob", "Bob", "h", 1});
  REQUIRE(alice.ok());
  REQUIRE(bob.ok());
  auto conv = ConversationId::Direct(alice->id, bob->id);

  constexpr int kTotal = 400, kStopAt = 150;
  std::atomic<int> done{0};
  int a_before_stop = 0, b_before_stop = 0, a_stopped = 0;
  std::thread stopper([&] {
    while (done.load() < kStopAt) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    a_before_stop = via_a->appends.load();
    b_before_stop = via_b->appends.load();
    server_a->Shutdown(500);  // while the sender keeps going
    a_stopped = via_a->appends.load();
  });
  std::set<Seq> seqs;
  int failures = 0;
  for (int i = 0; i < kTotal; ++i) {
    auto r = remote->AppendMessage(Msg(conv, alice->id, i));
    if (r.ok()) {
      seqs.insert(r->seq);
    } else {
      ++failures;
      MESSAGE("append " << i << ": " << r.status().ToString());
    }
    done++;
  }
  stopper.join();
  CHECK(failures == 0);
  // Round robin: both servers took calls before the stop; afterwards only B did.
  CHECK(a_before_stop > 0);
  CHECK(b_before_stop > 0);
  CHECK(via_a->appends.load() == a_stopped);
  CHECK(via_b->appends.load() > b_before_stop);
  CHECK(via_a->appends.load() + via_b->appends.load() >= kTotal);
  // Retries after a lost reply were answered as duplicates: history holds each message once.
  CHECK(seqs.size() == size_t(kTotal));
  auto state = remote->GetConversationState(conv);
  REQUIRE(state.ok());
  CHECK(state->last_seq == Seq(kTotal));
}

TEST_CASE("remote store: calls fail with unavailable while the server is down, then succeed after a restart") {
  auto backing = NewMemoryStore();
  auto server = Serve(backing);
  int port = server->port();
  auto options = RemoteOptions({port});
  // Six attempts wait at least 20 + 40 + 80 + 100 + 100 ms in all: longer than the channel's
  // longest reconnect backoff (200 ms + 20% jitter), so one call spans a reconnect.
  options.max_attempts = 6;
  options.initial_backoff_ms = 40;
  options.max_backoff_ms = 200;
  options.reconnect_backoff_ms = 50;
  options.deadline_ms = 1000;
  auto remote = Connect(options);
  auto alice = remote->CreateUser(NewUser{"alice", "Alice", "h", 1});
  REQUIRE(alice.ok());

  server->Shutdown(500);
  server.reset();

  // A read is retried and then gives up with unavailable.
  auto start = Clock::now();
  auto r = remote->GetUser(alice->id);
  CHECK(r.status().code() == StatusCode::kUnavailable);
  CHECK(MsSince(start) >= 340);
  // A write that is unsafe to repeat is tried once.
  auto created = remote->CreateUser(NewUser{"bob", "Bob", "h", 1});
  CHECK(created.status().code() == StatusCode::kUnavailable);

  server = Serve(backing, port);
  // The same RemoteStore: its channel reconnects by itself within the retries of one call.
  auto again = remote->GetUser(alice->id);
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(again->username == "alice");
  CHECK(remote->CreateUser(NewUser{"bob", "Bob", "h", 1}).ok());
}

TEST_CASE("remote store and repo server: bad options are refused") {
  RemoteStoreOptions o;
  CHECK(OpenRemoteStore(o).status().code() == StatusCode::kInvalidArgument);  // no address
  o.addresses = {"repo-a.internal:50051", "repo-b.internal:50051"};  // names need one DNS address
  CHECK(OpenRemoteStore(o).status().code() == StatusCode::kInvalidArgument);
  o.addresses = {"10.0.0.1:50051", "[::1]:50051"};  // mixed families
  CHECK(OpenRemoteStore(o).status().code() == StatusCode::kInvalidArgument);
  o.addresses = {"10.0.0.1:50051", "10.0.0.2:50051"};
  CHECK(OpenRemoteStore(o).ok());
  o.addresses = {"repo.internal:50051"};
  CHECK(OpenRemoteStore(o).ok());
  o.max_attempts = 0;
  CHECK(OpenRemoteStore(o).status().code() == StatusCode::kInvalidArgument);

  RepoServerOptions so;
  so.listen_address = "256.1.1.1:1";
  CHECK(StartRepoServer(NewMemoryStore(), so).status().code() == StatusCode::kUnavailable);
  CHECK(StartRepoServer(nullptr, RepoServerOptions{}).status().code() == StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace im::test
