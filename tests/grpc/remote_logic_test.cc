// The gateway half over gRPC: an engine that runs only the gateway half, with RemoteLogic ->
// LogicServer -> an engine that runs the logic half, sharing a bus and a presence as im-gateway
// and im-logic share Kafka and Redis. Every LogicApi call crosses the network; codes survive.
#include <doctest/doctest.h>

#include <chrono>

#include "im/engine.h"
#include "im/logic_server.h"
#include "im/remote_logic.h"
#include "support/engine_fixture.h"

namespace im::test {
namespace {

struct OverGrpc {
  std::shared_ptr<Bus> bus = NewInProcessBus();
  std::shared_ptr<Presence> presence = NewMemoryPresence();
  std::shared_ptr<Engine> logic;
  std::unique_ptr<LogicServer> server;
  std::unique_ptr<Engine> gateway;

  OverGrpc() {
    Options o = FastOptions();
    o.bus = bus;
    o.presence = presence;
    o.run_gateway = false;
    logic = Engine::Open(o).value();
    LogicServerOptions so;
    so.listen_address = "127.0.0.1:0";
    so.shutdown_grace_ms = 500;
    auto started = StartLogicServer(logic, so);
    REQUIRE_MESSAGE(started.ok(), started.status().ToString());
    server = std::move(started).value();

    RemoteLogicOptions ro;
    ro.addresses = {"127.0.0.1:" + std::to_string(server->port())};
    Options g = FastOptions();
    g.bus = bus;
    g.presence = presence;
    g.run_logic = false;
    g.run_tasks = false;
    g.gateway_id = "gw-grpc";
    g.logic = OpenRemoteLogic(ro).value();
    gateway = Engine::Open(g).value();
  }
};

TEST_CASE("remote logic: auth, users, groups, messages and sync through LogicServer") {
  OverGrpc t;
  Engine& gw = *t.gateway;
  UserId alice = MustRegister(gw, "alice");
  UserId bob = MustRegister(gw, "bob");
  UserId carol = MustRegister(gw, "carol");
  CHECK(gw.Register("alice", "password-alice", "").status().code() == StatusCode::kAlreadyExists);

  // Tokens: login, authenticate, refresh rotation (reuse revokes), logout.
  auto tokens = gw.Login("alice", "password-alice", "phone");
  REQUIRE_MESSAGE(tokens.ok(), tokens.status().ToString());
  CHECK(tokens->user == alice);
  auto who = gw.Authenticate(tokens->access_token);
  REQUIRE(who.ok());
  CHECK(who->user == alice);
  CHECK(who->device == "phone");
  CHECK(gw.Login("alice", "wrong-password", "phone").status().code() == StatusCode::kUnauthenticated);
  CHECK(gw.Authenticate("not-a-jwt").status().code() == StatusCode::kUnauthenticated);
  auto next = gw.Refresh(tokens->refresh_token);
  REQUIRE(next.ok());
  CHECK(gw.Refresh(tokens->refresh_token).status().code() == StatusCode::kUnauthenticated);
  CHECK(gw.Authenticate(next->access_token).status().code() == StatusCode::kUnauthenticated);  // family revoked

  // Users.
  auto found = gw.FindUser("bob");
  REQUIRE(found.ok());
  CHECK(found->id == bob);
  CHECK(gw.FindUser("nobody").status().code() == StatusCode::kNotFound);
  auto renamed = gw.UpdateProfile(bob, "Bob B.");
  REQUIRE(renamed.ok());
  std::vector<UserId> ids{alice, bob};
  auto users = gw.GetUsers(ids);
  REQUIRE(users.ok());
  REQUIRE(users->size() == 2);
  CHECK((*users)[1].display_name == "Bob B.");

  // Messages: sends go through the bus, history and read state through gRPC.
  auto bob_sink = std::make_shared<RecordingSink>();
  REQUIRE(gw.Attach(bob, "phone", bob_sink).ok());
  auto ab = ConversationId::Direct(alice, bob);
  for (int i = 1; i <= 3; ++i) {
    auto ack = gw.Send(alice, "web", {ab, "m" + std::to_string(i), ContentType::kText, "hello " + std::to_string(i)});
    REQUIRE_MESSAGE(ack.ok(), ack.status().ToString());
    CHECK(ack->seq == Seq(i));
  }
  auto page = gw.GetHistory(bob, ab, HistoryQuery{0, 0, 2});
  REQUIRE(page.ok());
  REQUIRE(page->messages.size() == 2);
  CHECK(page->messages[0].seq == 2);
  CHECK(page->has_more);
  CHECK(gw.GetHistory(carol, ab, {}).status().code() == StatusCode::kPermissionDenied);
  auto read = gw.MarkRead(bob, "phone", ab, 3);
  REQUIRE(read.ok());
  CHECK(*read == 3);
  auto list = gw.ListConversations(bob, {}, 10);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK(list->front().unread == 0);
  REQUIRE(list->front().last_message.has_value());
  CHECK(list->front().last_message->content == "hello 3");
  CHECK(gw.Typing(alice, "web", ab).ok());

  // Groups.
  auto group = gw.CreateGroup(alice, "trio", 0, test::OpenGroup());
  REQUIRE(group.ok());
  REQUIRE(gw.JoinGroup(bob, group->id).ok());
  REQUIRE(gw.JoinGroup(carol, group->id).ok());
  CHECK(gw.JoinGroup(carol, group->id).code() == StatusCode::kAlreadyExists);
  REQUIRE(gw.SetMemberRole(alice, group->id, bob, GroupRole::kAdmin).ok());
  auto members = gw.ListMembers(carol, group->id, UserId(), 10);
  REQUIRE(members.ok());
  CHECK(members->size() == 3);
  auto gc = ConversationId::Group(group->id);
  REQUIRE(gw.Send(carol, "web", {gc, "g1", ContentType::kText, "hi group"}).ok());
  REQUIRE(gw.KickMember(bob, group->id, carol).ok());
  CHECK(gw.LeaveGroup(alice, group->id).code() == StatusCode::kFailedPrecondition);

  // Sync: carol was kicked, so her position in the group reports permission_denied.
  SyncRequest sync;
  sync.positions.push_back(SyncPosition{gc, 0});
  auto synced = gw.Sync(carol, sync);
  REQUIRE(synced.ok());
  bool denied = false;
  for (const auto& c : synced->conversations) {
    if (c.conversation == gc) denied = c.status.code() == StatusCode::kPermissionDenied;
  }
  CHECK(denied);
  SyncRequest bob_sync;
  bob_sync.positions.push_back(SyncPosition{ab, 1});
  auto bob_synced = gw.Sync(bob, bob_sync);
  REQUIRE(bob_synced.ok());
  for (const auto& c : bob_synced->conversations) {
    if (c.conversation == ab) {
      REQUIRE(c.messages.size() == 2);
      CHECK(c.messages[0].seq == 2);
      CHECK(c.last_seq == 3);
    }
  }
  // Limit 0 crosses gRPC as 0 (an absent proto3 field) and means the default, not one message.
  bob_sync.positions = {SyncPosition{ab, 0}};
  bob_sync.limit_per_conversation = 0;
  auto bob_all = gw.Sync(bob, bob_sync);
  REQUIRE(bob_all.ok());
  REQUIRE(bob_all->conversations.size() == 1);
  CHECK(bob_all->conversations[0].messages.size() == 3);
  CHECK_FALSE(bob_all->conversations[0].has_more);

  // Group policy through im-logic: settings, invitations, requests and bans keep their codes.
  auto private_group = gw.CreateGroup(alice, "private", 0, GroupSettings{});
  REQUIRE(private_group.ok());
  const GroupId pg = private_group->id;
  CHECK(private_group->join_policy == JoinPolicy::kInvite);
  CHECK(private_group->history_visibility == HistoryVisibility::kJoined);
  CHECK(gw.GetGroup(carol, pg).status().code() == StatusCode::kNotFound);
  CHECK(gw.JoinGroup(carol, pg).code() == StatusCode::kNotFound);
  REQUIRE(gw.InviteMember(alice, pg, carol).ok());
  auto invitations = gw.ListInvitations(carol, GroupId(), 10);
  REQUIRE(invitations.ok());
  REQUIRE(invitations->size() == 1);
  CHECK(invitations->front().group == pg);
  CHECK(invitations->front().actor == alice);
  REQUIRE(gw.RemoveGroupRelation(carol, pg, carol, GroupRelationKind::kInvitation).ok());
  CHECK(gw.RemoveGroupRelation(carol, pg, carol, GroupRelationKind::kInvitation).code() == StatusCode::kNotFound);
  auto approval = gw.UpdateGroupSettings(alice, pg, {JoinPolicy::kApproval, HistoryVisibility::kFull});
  REQUIRE(approval.ok());
  CHECK(approval->join_policy == JoinPolicy::kApproval);
  CHECK(gw.UpdateGroupSettings(bob, pg, {}).status().code() == StatusCode::kPermissionDenied);
  REQUIRE(gw.RequestToJoin(carol, pg).ok());
  auto requests = gw.ListGroupRelations(alice, pg, GroupRelationKind::kJoinRequest, UserId(), 10);
  REQUIRE(requests.ok());
  REQUIRE(requests->size() == 1);
  CHECK(requests->front().user == carol);
  REQUIRE(gw.ApproveJoinRequest(alice, pg, carol).ok());
  CHECK(gw.JoinGroup(carol, pg).code() == StatusCode::kAlreadyExists);
  REQUIRE(gw.KickMember(alice, pg, carol, /*ban=*/true).ok());
  CHECK(gw.RequestToJoin(carol, pg).code() == StatusCode::kPermissionDenied);
  auto bans = gw.ListGroupRelations(alice, pg, GroupRelationKind::kBan, UserId(), 10);
  REQUIRE(bans.ok());
  REQUIRE(bans->size() == 1);
  CHECK(bans->front().user == carol);
  REQUIRE(gw.RemoveGroupRelation(alice, pg, carol, GroupRelationKind::kBan).ok());

  REQUIRE(gw.TransferOwnership(alice, group->id, bob).ok());
  CHECK(gw.DismissGroup(alice, group->id).code() == StatusCode::kPermissionDenied);
  REQUIRE(gw.DismissGroup(bob, group->id).ok());
  CHECK(gw.GetGroup(alice, group->id).status().code() == StatusCode::kNotFound);

  REQUIRE(gw.Drain().ok());
  CHECK(bob_sink->Of<NewMessageEvent>().size() >= 4);
  REQUIRE(gw.Logout(next->refresh_token).ok());
}

TEST_CASE("remote logic: no server answers with unavailable, bad options are refused") {
  CHECK(OpenRemoteLogic(RemoteLogicOptions{}).status().code() == StatusCode::kInvalidArgument);
  RemoteLogicOptions ro;
  ro.addresses = {"127.0.0.1:1"};  // nothing listens on port 1
  ro.deadline_ms = 300;
  ro.max_attempts = 2;
  ro.initial_backoff_ms = 10;
  auto logic = OpenRemoteLogic(ro).value();
  auto start = std::chrono::steady_clock::now();
  CHECK(logic->Authenticate("x").status().code() == StatusCode::kUnavailable);
  CHECK(logic->Login("alice", "password", "d").status().code() == StatusCode::kUnavailable);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

}  // namespace
}  // namespace im::test
