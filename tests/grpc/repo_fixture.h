// Helpers for the im-repo tests: RepoServers on 127.0.0.1 and RemoteStores that reach them.
#ifndef IM_TESTS_GRPC_REPO_FIXTURE_H_
#define IM_TESTS_GRPC_REPO_FIXTURE_H_

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "im/remote_store.h"
#include "im/repo_server.h"
#include "im/store.h"

namespace im::test {

// Serves `store` on 127.0.0.1:`port` (0: a free port).
inline std::unique_ptr<RepoServer> Serve(std::shared_ptr<Store> store, int port = 0) {
  RepoServerOptions o;
  o.listen_address = "127.0.0.1:" + std::to_string(port);
  o.shutdown_grace_ms = 1000;
  auto server = StartRepoServer(std::move(store), o);
  REQUIRE_MESSAGE(server.ok(), server.status().ToString());
  return std::move(server).value();
}

inline RemoteStoreOptions RemoteOptions(const std::vector<int>& ports) {
  RemoteStoreOptions o;
  for (int p : ports) o.addresses.push_back("127.0.0.1:" + std::to_string(p));
  return o;
}

inline std::shared_ptr<Store> Connect(const RemoteStoreOptions& o) {
  auto remote = OpenRemoteStore(o);
  REQUIRE_MESSAGE(remote.ok(), remote.status().ToString());
  return std::move(remote).value();
}

// Counts the appends that reach it, so a test can see which server a call went through.
class CountingStore : public StoreWrapper {
 public:
  using StoreWrapper::StoreWrapper;
  Result<AppendResult> AppendMessage(const NewMessage& m) override {
    appends++;
    return StoreWrapper::AppendMessage(m);
  }
  std::atomic<int> appends{0};
};

}  // namespace im::test

#endif  // IM_TESTS_GRPC_REPO_FIXTURE_H_
