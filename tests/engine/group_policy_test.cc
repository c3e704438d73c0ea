// Group policy (docs/architecture.md "Group policy"): join policies, invitations, join requests,
// bans and history visibility, as the engine enforces them.
#include <doctest/doctest.h>

#include "im/engine.h"
#include "support/engine_fixture.h"

using namespace im;
using im::test::FastOptions;
using im::test::MustRegister;

namespace {

constexpr auto kInvitation = GroupRelationKind::kInvitation;
constexpr auto kJoinRequest = GroupRelationKind::kJoinRequest;
constexpr auto kBan = GroupRelationKind::kBan;

struct World {
  std::unique_ptr<Engine> engine = Engine::Open(FastOptions()).value();
  UserId owner = MustRegister(*engine, "owner");
  UserId admin = MustRegister(*engine, "admin");
  UserId member = MustRegister(*engine, "member");
  UserId outsider = MustRegister(*engine, "outsider");

  // A group with an admin and a plain member, created with `settings`.
  GroupId Group(GroupSettings settings = {}) {
    auto g = engine->CreateGroup(owner, "team", 0, settings);
    REQUIRE_MESSAGE(g.ok(), g.status().ToString());
    for (UserId u : {admin, member}) {
      REQUIRE(engine->InviteMember(owner, g->id, u).ok());
      REQUIRE(engine->JoinGroup(u, g->id).ok());
    }
    REQUIRE(engine->SetMemberRole(owner, g->id, admin, GroupRole::kAdmin).ok());
    return g->id;
  }
  Seq Send(UserId from, GroupId g, const std::string& text) {
    auto ack = engine->Send(from, "dev", SendRequest{ConversationId::Group(g), "", ContentType::kText, text});
    REQUIRE_MESSAGE(ack.ok(), ack.status().ToString());
    return ack->seq;
  }
  bool IsMember(GroupId g, UserId u) {
    auto page = engine->ListMembers(owner, g, UserId(u.value - 1), 1);
    REQUIRE_MESSAGE(page.ok(), page.status().ToString());
    return !page->empty() && page->front().user == u;
  }
  std::vector<std::string> History(UserId who, GroupId g, HistoryQuery q = {}) {
    auto page = engine->GetHistory(who, ConversationId::Group(g), q);
    REQUIRE_MESSAGE(page.ok(), page.status().ToString());
    std::vector<std::string> out;
    for (const auto& m : page->messages) out.push_back(m.content);
    return out;
  }
};

StatusCode Code(const Status& s) { return s.code(); }
template <typename T>
StatusCode Code(const Result<T>& r) {
  return r.status().code();
}

}  // namespace

TEST_CASE("a new group is invite-only with history from each member's join") {
  World w;
  auto g = w.engine->CreateGroup(w.owner, "private").value();
  CHECK(g.join_policy == JoinPolicy::kInvite);
  CHECK(g.history_visibility == HistoryVisibility::kJoined);
}

TEST_CASE("an invite-only group looks to an outsider exactly like a group that does not exist") {
  World w;
  GroupId g = w.Group();
  GroupId missing(g.value + 1000);
  auto hidden = w.engine->GetGroup(w.outsider, g);
  auto absent = w.engine->GetGroup(w.outsider, missing);
  REQUIRE(Code(hidden) == StatusCode::kNotFound);
  CHECK(hidden.status().message().find(std::to_string(g.value)) != std::string::npos);
  // Same code, same wording (only the id differs).
  auto unmask = [](std::string m, GroupId id) {
    const std::string text = std::to_string(id.value);
    return m.replace(m.find(text), text.size(), "N");
  };
  CHECK(unmask(hidden.status().message(), g) == unmask(absent.status().message(), missing));
  CHECK(Code(w.engine->JoinGroup(w.outsider, g)) == StatusCode::kNotFound);
  CHECK(Code(w.engine->JoinGroup(w.outsider, missing)) == StatusCode::kNotFound);
  CHECK(Code(w.engine->RequestToJoin(w.outsider, g)) == StatusCode::kNotFound);
  // Members see it.
  CHECK(w.engine->GetGroup(w.member, g).ok());
}

TEST_CASE("an invitee sees the group, joins by accepting, and the invitation is spent") {
  World w;
  GroupId g = w.Group();
  REQUIRE(w.engine->InviteMember(w.admin, g, w.outsider).ok());
  auto mine = w.engine->ListInvitations(w.outsider, GroupId(), 0).value();
  REQUIRE(mine.size() == 1);
  CHECK(mine[0].group == g);
  CHECK(mine[0].actor == w.admin);
  CHECK(w.engine->GetGroup(w.outsider, g).value().name == "team");
  REQUIRE(w.engine->JoinGroup(w.outsider, g).ok());
  CHECK(w.engine->ListInvitations(w.outsider, GroupId(), 0).value().empty());
  CHECK(w.engine->ListGroupRelations(w.owner, g, kInvitation, UserId(), 0).value().empty());
  // Leaving ends it: a former member of an invite-only group needs a new invitation.
  REQUIRE(w.engine->LeaveGroup(w.outsider, g).ok());
  CHECK(Code(w.engine->JoinGroup(w.outsider, g)) == StatusCode::kNotFound);
  CHECK(Code(w.engine->GetGroup(w.outsider, g)) == StatusCode::kNotFound);
}

TEST_CASE("a declined or revoked invitation no longer lets the user in") {
  World w;
  GroupId g = w.Group();
  REQUIRE(w.engine->InviteMember(w.owner, g, w.outsider).ok());
  REQUIRE(w.engine->RemoveGroupRelation(w.outsider, g, w.outsider, kInvitation).ok());  // declined
  CHECK(Code(w.engine->JoinGroup(w.outsider, g)) == StatusCode::kNotFound);
  REQUIRE(w.engine->InviteMember(w.owner, g, w.outsider).ok());
  CHECK(w.engine->ListGroupRelations(w.admin, g, kInvitation, UserId(), 0).value().size() == 1);
  CHECK(Code(w.engine->RemoveGroupRelation(w.member, g, w.outsider, kInvitation)) == StatusCode::kPermissionDenied);
  REQUIRE(w.engine->RemoveGroupRelation(w.admin, g, w.outsider, kInvitation).ok());  // revoked
  CHECK(Code(w.engine->JoinGroup(w.outsider, g)) == StatusCode::kNotFound);
  CHECK(Code(w.engine->RemoveGroupRelation(w.outsider, g, w.outsider, kInvitation)) == StatusCode::kNotFound);
}

TEST_CASE("only owners and admins invite, and inviting a member, a banned or an unknown user is refused") {
  World w;
  GroupId g = w.Group();
  CHECK(Code(w.engine->InviteMember(w.member, g, w.outsider)) == StatusCode::kPermissionDenied);
  CHECK(Code(w.engine->InviteMember(w.outsider, g, w.outsider)) == StatusCode::kPermissionDenied);
  CHECK(Code(w.engine->InviteMember(w.owner, g, w.member)) == StatusCode::kAlreadyExists);
  CHECK(Code(w.engine->InviteMember(w.owner, g, UserId(999'999))) == StatusCode::kNotFound);
  REQUIRE(w.engine->KickMember(w.owner, g, w.outsider, /*ban=*/true).ok());
  CHECK(Code(w.engine->InviteMember(w.owner, g, w.outsider)) == StatusCode::kFailedPrecondition);
}

TEST_CASE("an open group shows its profile to anyone and lets anyone join") {
  World w;
  GroupId g = w.Group({JoinPolicy::kOpen, HistoryVisibility::kJoined});
  CHECK(w.engine->GetGroup(w.outsider, g).value().join_policy == JoinPolicy::kOpen);
  CHECK(Code(w.engine->RequestToJoin(w.outsider, g)) == StatusCode::kFailedPrecondition);
  REQUIRE(w.engine->JoinGroup(w.outsider, g).ok());
  CHECK(Code(w.engine->JoinGroup(w.outsider, g)) == StatusCode::kAlreadyExists);
  // Members stay members-only things: the member list.
  auto stranger = MustRegister(*w.engine, "stranger");
  CHECK(Code(w.engine->ListMembers(stranger, g, UserId(), 0)) == StatusCode::kPermissionDenied);
}

TEST_CASE("an approval group takes join requests that an owner or admin approves or rejects") {
  World w;
  GroupId g = w.Group({JoinPolicy::kApproval, HistoryVisibility::kJoined});
  auto second = MustRegister(*w.engine, "second");
  CHECK(w.engine->GetGroup(w.outsider, g).ok());  // the profile is visible, to ask
  CHECK(Code(w.engine->JoinGroup(w.outsider, g)) == StatusCode::kPermissionDenied);
  REQUIRE(w.engine->RequestToJoin(w.outsider, g).ok());
  REQUIRE(w.engine->RequestToJoin(w.outsider, g).ok());  // asking again changes nothing
  REQUIRE(w.engine->RequestToJoin(second, g).ok());
  CHECK(Code(w.engine->ListGroupRelations(w.member, g, kJoinRequest, UserId(), 0)) == StatusCode::kPermissionDenied);
  auto pending = w.engine->ListGroupRelations(w.admin, g, kJoinRequest, UserId(), 0).value();
  REQUIRE(pending.size() == 2);
  CHECK(pending[0].user == w.outsider);
  CHECK(Code(w.engine->ApproveJoinRequest(w.member, g, w.outsider)) == StatusCode::kPermissionDenied);
  REQUIRE(w.engine->ApproveJoinRequest(w.admin, g, w.outsider).ok());
  CHECK(w.IsMember(g, w.outsider));
  REQUIRE(w.engine->RemoveGroupRelation(w.owner, g, second, kJoinRequest).ok());  // rejected
  CHECK(Code(w.engine->ApproveJoinRequest(w.owner, g, second)) == StatusCode::kNotFound);
  CHECK(w.engine->ListGroupRelations(w.owner, g, kJoinRequest, UserId(), 0).value().empty());
  // The requester may withdraw their own request.
  REQUIRE(w.engine->RequestToJoin(second, g).ok());
  REQUIRE(w.engine->RemoveGroupRelation(second, g, second, kJoinRequest).ok());
  // An invitation lets a user in whatever the policy.
  auto third = MustRegister(*w.engine, "third");
  REQUIRE(w.engine->InviteMember(w.owner, g, third).ok());
  CHECK(Code(w.engine->RequestToJoin(third, g)) == StatusCode::kFailedPrecondition);
  REQUIRE(w.engine->JoinGroup(third, g).ok());
}

TEST_CASE("a kicked member of an open group rejoins, but a banned one cannot until unbanned") {
  World w;
  GroupId g = w.Group({JoinPolicy::kOpen, HistoryVisibility::kFull});
  REQUIRE(w.engine->KickMember(w.admin, g, w.member).ok());
  REQUIRE(w.engine->JoinGroup(w.member, g).ok());  // a kick alone is not a ban
  REQUIRE(w.engine->KickMember(w.admin, g, w.member, /*ban=*/true).ok());
  CHECK(!w.IsMember(g, w.member));
  CHECK(Code(w.engine->JoinGroup(w.member, g)) == StatusCode::kPermissionDenied);
  CHECK(Code(w.engine->Send(w.member, "dev", SendRequest{ConversationId::Group(g), "", ContentType::kText, "x"})) ==
        StatusCode::kPermissionDenied);
  auto bans = w.engine->ListGroupRelations(w.admin, g, kBan, UserId(), 0).value();
  REQUIRE(bans.size() == 1);
  CHECK(bans[0].user == w.member);
  CHECK(bans[0].actor == w.admin);
  // Nobody lifts their own ban; plain members cannot either.
  CHECK(Code(w.engine->RemoveGroupRelation(w.member, g, w.member, kBan)) == StatusCode::kPermissionDenied);
  CHECK(Code(w.engine->RemoveGroupRelation(w.outsider, g, w.member, kBan)) == StatusCode::kPermissionDenied);
  REQUIRE(w.engine->RemoveGroupRelation(w.owner, g, w.member, kBan).ok());
  REQUIRE(w.engine->JoinGroup(w.member, g).ok());
}

TEST_CASE("a ban reaches users who are not members, and admins cannot ban admins or the owner") {
  World w;
  GroupId g = w.Group({JoinPolicy::kApproval, HistoryVisibility::kJoined});
  REQUIRE(w.engine->RequestToJoin(w.outsider, g).ok());
  REQUIRE(w.engine->KickMember(w.admin, g, w.outsider, /*ban=*/true).ok());  // a requester
  CHECK(w.engine->ListGroupRelations(w.owner, g, kJoinRequest, UserId(), 0).value().empty());
  CHECK(Code(w.engine->RequestToJoin(w.outsider, g)) == StatusCode::kPermissionDenied);
  CHECK(Code(w.engine->KickMember(w.admin, g, w.owner, true)) == StatusCode::kPermissionDenied);
  auto admin2 = MustRegister(*w.engine, "admin2");
  REQUIRE(w.engine->InviteMember(w.owner, g, admin2).ok());
  REQUIRE(w.engine->JoinGroup(admin2, g).ok());
  REQUIRE(w.engine->SetMemberRole(w.owner, g, admin2, GroupRole::kAdmin).ok());
  CHECK(Code(w.engine->KickMember(w.admin, g, admin2, true)) == StatusCode::kPermissionDenied);
  CHECK(Code(w.engine->KickMember(w.member, g, w.outsider, true)) == StatusCode::kPermissionDenied);
  CHECK(Code(w.engine->KickMember(w.owner, g, UserId(999'999), true)) == StatusCode::kNotFound);
  REQUIRE(w.engine->KickMember(w.owner, g, admin2, true).ok());
}

TEST_CASE("only the owner changes the join policy and history visibility") {
  World w;
  GroupId g = w.Group();
  GroupSettings open{JoinPolicy::kOpen, HistoryVisibility::kFull};
  CHECK(Code(w.engine->UpdateGroupSettings(w.admin, g, open)) == StatusCode::kPermissionDenied);
  CHECK(Code(w.engine->UpdateGroupSettings(w.outsider, g, open)) == StatusCode::kPermissionDenied);
  CHECK(Code(w.engine->UpdateGroupSettings(w.owner, g, {static_cast<JoinPolicy>(9), HistoryVisibility::kFull})) ==
        StatusCode::kInvalidArgument);
  auto changed = w.engine->UpdateGroupSettings(w.owner, g, open).value();
  CHECK(changed.join_policy == JoinPolicy::kOpen);
  CHECK(changed.history_visibility == HistoryVisibility::kFull);
  REQUIRE(w.engine->JoinGroup(w.outsider, g).ok());
}

TEST_CASE("a new member reads history, sync and search results only from their join") {
  World w;
  GroupId g = w.Group();
  w.Send(w.owner, g, "before 1");
  w.Send(w.owner, g, "before 2");
  REQUIRE(w.engine->InviteMember(w.owner, g, w.outsider).ok());
  REQUIRE(w.engine->JoinGroup(w.outsider, g).ok());
  // Right after joining, the conversation row does not show the last message from before.
  auto rows = w.engine->ListConversations(w.outsider, {}, 0).value();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].last_seq == 2);
  CHECK(!rows[0].last_message.has_value());
  CHECK(w.History(w.outsider, g).empty());
  w.Send(w.member, g, "after 1");
  CHECK(w.History(w.outsider, g) == std::vector<std::string>{"after 1"});
  CHECK(w.History(w.outsider, g, HistoryQuery{1, 0, 50}) == std::vector<std::string>{"after 1"});
  CHECK(w.History(w.outsider, g, HistoryQuery{0, 3, 50}).empty());
  CHECK(w.History(w.member, g).size() == 3);  // the member who joined before sees everything since
  // Sync from nothing starts after the join, without reporting the earlier seqs as lost.
  auto sync = w.engine->Sync(w.outsider, SyncRequest{{}, true, 100}).value();
  REQUIRE(sync.conversations.size() == 1);
  const auto& entry = sync.conversations[0];
  CHECK(entry.status.ok());
  CHECK(entry.last_seq == 3);
  REQUIRE(entry.messages.size() == 1);
  CHECK(entry.messages[0].content == "after 1");
  CHECK(!entry.history_lost);
  CHECK(entry.first_available_seq == 3);
}

TEST_CASE("a group with full history shows a new member everything, and a rejoin starts again at the rejoin") {
  World w;
  GroupId g = w.Group({JoinPolicy::kOpen, HistoryVisibility::kFull});
  w.Send(w.owner, g, "old");
  REQUIRE(w.engine->JoinGroup(w.outsider, g).ok());
  CHECK(w.History(w.outsider, g) == std::vector<std::string>{"old"});
  REQUIRE(w.engine->UpdateGroupSettings(w.owner, g, {JoinPolicy::kOpen, HistoryVisibility::kJoined}).ok());
  CHECK(w.History(w.outsider, g).empty());  // joined after "old"
  REQUIRE(w.engine->LeaveGroup(w.outsider, g).ok());
  w.Send(w.owner, g, "while away");
  REQUIRE(w.engine->JoinGroup(w.outsider, g).ok());
  w.Send(w.owner, g, "back");
  CHECK(w.History(w.outsider, g) == std::vector<std::string>{"back"});
}
