// OnlineStatusService of im-repo: the Presence seam over gRPC, called through the generated stub
// as any client would.
#include <doctest/doctest.h>
#include <grpcpp/grpcpp.h>

#include "grpc/repo_fixture.h"
#include "im/presence.h"
#include "im/v1/repo.grpc.pb.h"

namespace im::test {
namespace {

namespace pb = ::im::v1::repo;

std::unique_ptr<pb::OnlineStatusService::Stub> StubFor(int port) {
  auto channel = ::grpc::CreateChannel("127.0.0.1:" + std::to_string(port), ::grpc::InsecureChannelCredentials());
  return pb::OnlineStatusService::NewStub(channel);
}

TEST_CASE("online status service: register, lookup, batch online, unregister") {
  RepoServerOptions o;
  o.listen_address = "127.0.0.1:0";
  o.presence = NewMemoryPresence();
  auto server = StartRepoServer(NewMemoryStore(), o).value();
  auto stub = StubFor(server->port());

  for (auto [user, device, gateway] : {std::tuple{1, "phone", "gw1"}, {1, "laptop", "gw2"}, {2, "phone", "gw2"}}) {
    ::grpc::ClientContext ctx;
    pb::RegisterRouteRequest req;
    req.mutable_route()->set_user_id(user);
    req.mutable_route()->set_device_id(device);
    req.mutable_route()->set_gateway_id(gateway);
    req.set_ttl_ms(60'000);
    pb::Empty resp;
    REQUIRE(stub->Register(&ctx, req, &resp).ok());
  }
  {
    ::grpc::ClientContext ctx;
    pb::LookupRoutesRequest req;
    req.add_user_ids(1);
    req.add_user_ids(3);
    pb::LookupRoutesResponse resp;
    REQUIRE(stub->Lookup(&ctx, req, &resp).ok());
    REQUIRE(resp.routes_size() == 2);
    for (const auto& r : resp.routes()) CHECK(r.user_id() == 1);
  }
  {
    ::grpc::ClientContext ctx;
    pb::OnlineRequest req;
    for (int64_t u : {2, 3, 1}) req.add_user_ids(u);
    pb::OnlineResponse resp;
    REQUIRE(stub->Online(&ctx, req, &resp).ok());
    REQUIRE(resp.online_size() == 3);
    CHECK(resp.online(0));
    CHECK(!resp.online(1));
    CHECK(resp.online(2));
  }
  {
    ::grpc::ClientContext ctx;
    pb::Route req;
    req.set_user_id(2);
    req.set_device_id("phone");
    req.set_gateway_id("gw2");
    pb::Empty resp;
    REQUIRE(stub->Unregister(&ctx, req, &resp).ok());
    ::grpc::ClientContext again;
    pb::OnlineRequest q;
    q.add_user_ids(2);
    pb::OnlineResponse online;
    REQUIRE(stub->Online(&again, q, &online).ok());
    CHECK(!online.online(0));
  }
  {
    ::grpc::ClientContext ctx;  // a route without a gateway is refused by the presence
    pb::RegisterRouteRequest req;
    req.mutable_route()->set_user_id(5);
    pb::Empty resp;
    CHECK(stub->Register(&ctx, req, &resp).error_code() == ::grpc::StatusCode::INVALID_ARGUMENT);
  }
}

TEST_CASE("online status service: without a presence the calls are UNIMPLEMENTED") {
  auto server = Serve(NewMemoryStore());
  auto stub = StubFor(server->port());
  ::grpc::ClientContext ctx;
  pb::OnlineRequest req;
  req.add_user_ids(1);
  pb::OnlineResponse resp;
  CHECK(stub->Online(&ctx, req, &resp).error_code() == ::grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace im::test
