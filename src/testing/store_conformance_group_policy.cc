// Store conformance cases of group policy (store.h "group policy"): settings, the joined seq of a
// member, invitations, join requests and bans, and what AddGroupMember and a ban do to them.
#include "store_conformance_check.h"

namespace im::testing::conformance {
namespace {

constexpr auto kInvite = GroupRelationKind::kInvitation;
constexpr auto kRequest = GroupRelationKind::kJoinRequest;
constexpr auto kBan = GroupRelationKind::kBan;

NewMessage GroupMsg(const ConversationId& c, UserId sender, int64_t id) {
  return NewMessage{MessageId(900'000 + id), c, sender, "p" + std::to_string(id), ContentType::kText, "x", kT0};
}

Status SettingsAndJoinedSeq(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  NewGroup ng{"g", a.id, 10, kT0};
  ng.join_policy = JoinPolicy::kApproval;
  ng.history_visibility = HistoryVisibility::kFull;
  ASSIGN_OK(Group g, s.CreateGroup(ng));
  EXPECT(g.join_policy == JoinPolicy::kApproval && g.history_visibility == HistoryVisibility::kFull);
  ASSIGN_OK(Group got, s.GetGroup(g.id));
  EXPECT(got.join_policy == JoinPolicy::kApproval && got.history_visibility == HistoryVisibility::kFull);
  EXPECT_OK(s.UpdateGroupSettings(g.id, GroupSettings{JoinPolicy::kOpen, HistoryVisibility::kJoined}));
  ASSIGN_OK(Group changed, s.GetGroup(g.id));
  EXPECT(changed.join_policy == JoinPolicy::kOpen && changed.history_visibility == HistoryVisibility::kJoined);
  EXPECT(changed.name == "g" && changed.member_count == 1 && changed.owner == a.id);
  EXPECT_CODE(s.UpdateGroupSettings(GroupId(999'999), GroupSettings{}), StatusCode::kNotFound);

  // The store records where the conversation stood when a member joined (the argument's
  // joined_seq is ignored), and again on a rejoin.
  auto gc = ConversationId::Group(g.id);
  ASSIGN_OK(GroupMember owner, s.GetGroupMember(g.id, a.id));
  EXPECT(owner.joined_seq == 0);
  for (int i = 1; i <= 3; ++i) EXPECT_OK(s.AppendMessage(GroupMsg(gc, a.id, i)));
  GroupMember join{b.id, GroupRole::kMember, kT0 + 1};
  join.joined_seq = 77;
  EXPECT_OK(s.AddGroupMember(g.id, join));
  ASSIGN_OK(GroupMember bm, s.GetGroupMember(g.id, b.id));
  EXPECT(bm.joined_seq == 3 && bm.joined_at_ms == kT0 + 1);
  ASSIGN_OK(auto page, s.ListGroupMembers(g.id, UserId(), 10));
  EXPECT(page.size() == 2 && page[1].user == b.id && page[1].joined_seq == 3);
  EXPECT_OK(s.RemoveGroupMember(g.id, b.id));
  EXPECT_OK(s.AppendMessage(GroupMsg(gc, a.id, 4)));
  EXPECT_OK(s.AddGroupMember(g.id, GroupMember{b.id, GroupRole::kMember, kT0 + 2}));
  ASSIGN_OK(GroupMember again, s.GetGroupMember(g.id, b.id));
  EXPECT(again.joined_seq == 4);

  EXPECT_OK(s.DismissGroup(g.id));
  EXPECT_CODE(s.UpdateGroupSettings(g.id, GroupSettings{}), StatusCode::kFailedPrecondition);
  return Status::Ok();
}

Status InvitationsAndRequests(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  ASSIGN_OK(User c, MakeUser(s, "carol"));
  ASSIGN_OK(Group g1, s.CreateGroup(NewGroup{"one", a.id, 10, kT0}));
  ASSIGN_OK(Group g2, s.CreateGroup(NewGroup{"two", a.id, 10, kT0}));
  EXPECT_CODE(s.GetGroupRelation(g1.id, b.id, kInvite), StatusCode::kNotFound);
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g1.id, b.id, kInvite, a.id, kT0 + 1}));
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g1.id, c.id, kInvite, a.id, kT0 + 2}));
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g2.id, b.id, kInvite, a.id, kT0 + 3}));
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g2.id, c.id, kRequest, c.id, kT0 + 4}));
  // Put replaces.
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g1.id, b.id, kInvite, a.id, kT0 + 5}));
  ASSIGN_OK(GroupRelation got, s.GetGroupRelation(g1.id, b.id, kInvite));
  EXPECT(got.group == g1.id && got.user == b.id && got.kind == kInvite && got.actor == a.id &&
         got.created_at_ms == kT0 + 5);
  // Kinds are separate.
  EXPECT_CODE(s.GetGroupRelation(g1.id, b.id, kRequest), StatusCode::kNotFound);

  // Per group by user id, and per user by group id, with paging.
  ASSIGN_OK(auto invited, s.ListGroupRelations(g1.id, kInvite, UserId(), 10));
  EXPECT(invited.size() == 2 && invited[0].user == b.id && invited[1].user == c.id);
  ASSIGN_OK(auto invited_after, s.ListGroupRelations(g1.id, kInvite, b.id, 10));
  EXPECT(invited_after.size() == 1 && invited_after[0].user == c.id);
  ASSIGN_OK(auto one, s.ListGroupRelations(g1.id, kInvite, UserId(), 1));
  EXPECT(one.size() == 1 && one[0].user == b.id);
  ASSIGN_OK(auto requests, s.ListGroupRelations(g2.id, kRequest, UserId(), 10));
  EXPECT(requests.size() == 1 && requests[0].user == c.id && requests[0].actor == c.id);
  ASSIGN_OK(auto bobs, s.ListUserGroupRelations(b.id, kInvite, GroupId(), 10));
  EXPECT(bobs.size() == 2 && bobs[0].group == g1.id && bobs[1].group == g2.id && bobs[0].actor == a.id);
  ASSIGN_OK(auto bobs_after, s.ListUserGroupRelations(b.id, kInvite, g1.id, 10));
  EXPECT(bobs_after.size() == 1 && bobs_after[0].group == g2.id);
  ASSIGN_OK(auto none, s.ListUserGroupRelations(b.id, kBan, GroupId(), 10));
  EXPECT(none.empty());

  // Joining consumes the user's invitation and request of that group only.
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g1.id, c.id, kRequest, c.id, kT0 + 6}));
  EXPECT_OK(s.AddGroupMember(g1.id, GroupMember{c.id, GroupRole::kMember, kT0 + 7}));
  EXPECT_CODE(s.GetGroupRelation(g1.id, c.id, kInvite), StatusCode::kNotFound);
  EXPECT_CODE(s.GetGroupRelation(g1.id, c.id, kRequest), StatusCode::kNotFound);
  EXPECT_OK(s.GetGroupRelation(g2.id, c.id, kRequest));
  ASSIGN_OK(auto left, s.ListGroupRelations(g1.id, kInvite, UserId(), 10));
  EXPECT(left.size() == 1 && left[0].user == b.id);
  ASSIGN_OK(auto carols, s.ListUserGroupRelations(c.id, kInvite, GroupId(), 10));
  EXPECT(carols.empty());

  EXPECT_OK(s.DeleteGroupRelation(g1.id, b.id, kInvite));
  EXPECT_CODE(s.DeleteGroupRelation(g1.id, b.id, kInvite), StatusCode::kNotFound);
  EXPECT_CODE(s.GetGroupRelation(g1.id, b.id, kInvite), StatusCode::kNotFound);
  ASSIGN_OK(auto bobs_left, s.ListUserGroupRelations(b.id, kInvite, GroupId(), 10));
  EXPECT(bobs_left.size() == 1 && bobs_left[0].group == g2.id);
  return Status::Ok();
}

Status Bans(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  ASSIGN_OK(User c, MakeUser(s, "carol"));
  ASSIGN_OK(User d, MakeUser(s, "dave"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"g", a.id, 10, kT0}));
  auto gc = ConversationId::Group(g.id);
  EXPECT_OK(s.AddGroupMember(g.id, GroupMember{b.id, GroupRole::kAdmin, kT0}));
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g.id, c.id, kInvite, a.id, kT0}));
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g.id, c.id, kRequest, c.id, kT0}));

  // The owner cannot be banned, and nothing changes.
  EXPECT_CODE(s.PutGroupRelation(GroupRelation{g.id, a.id, kBan, b.id, kT0}), StatusCode::kFailedPrecondition);
  EXPECT_OK(s.GetGroupMember(g.id, a.id));
  EXPECT_CODE(s.GetGroupRelation(g.id, a.id, kBan), StatusCode::kNotFound);

  // Banning a member removes the membership and its list row in the same write.
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g.id, b.id, kBan, a.id, kT0 + 1}));
  EXPECT_CODE(s.GetGroupMember(g.id, b.id), StatusCode::kNotFound);
  ASSIGN_OK(Group after, s.GetGroup(g.id));
  EXPECT(after.member_count == 1);
  ASSIGN_OK(auto blist, s.ListConversations(b.id, {}, 10));
  EXPECT(blist.empty());
  // Banning a non-member drops their invitation and request.
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g.id, c.id, kBan, a.id, kT0 + 2}));
  EXPECT_CODE(s.GetGroupRelation(g.id, c.id, kInvite), StatusCode::kNotFound);
  EXPECT_CODE(s.GetGroupRelation(g.id, c.id, kRequest), StatusCode::kNotFound);
  ASSIGN_OK(auto bans, s.ListGroupRelations(g.id, kBan, UserId(), 10));
  EXPECT(bans.size() == 2 && bans[0].user == b.id && bans[1].user == c.id && bans[0].actor == a.id);

  // A banned user cannot be added, invited or ask to join.
  EXPECT_CODE(s.AddGroupMember(g.id, GroupMember{b.id, GroupRole::kMember, kT0}), StatusCode::kFailedPrecondition);
  EXPECT_CODE(s.PutGroupRelation(GroupRelation{g.id, b.id, kInvite, a.id, kT0}), StatusCode::kFailedPrecondition);
  EXPECT_CODE(s.PutGroupRelation(GroupRelation{g.id, c.id, kRequest, c.id, kT0}), StatusCode::kFailedPrecondition);
  EXPECT_CODE(s.GetGroupRelation(g.id, b.id, kInvite), StatusCode::kNotFound);
  // Banning someone who is neither a member nor related works too.
  EXPECT_OK(s.PutGroupRelation(GroupRelation{g.id, d.id, kBan, a.id, kT0 + 3}));

  // Unbanning lets them back in.
  EXPECT_OK(s.DeleteGroupRelation(g.id, b.id, kBan));
  EXPECT_OK(s.AddGroupMember(g.id, GroupMember{b.id, GroupRole::kMember, kT0 + 4}));
  ASSIGN_OK(GroupMember back, s.GetGroupMember(g.id, b.id));
  EXPECT(back.role == GroupRole::kMember);
  ASSIGN_OK(auto back_list, s.ListConversations(b.id, {}, 10));
  EXPECT(back_list.size() == 1 && back_list[0].id == gc);
  return Status::Ok();
}

}  // namespace

std::vector<StoreConformanceCase> GroupPolicyCases() {
  return {
      {"group policy: settings and the joined seq of members", SettingsAndJoinedSeq},
      {"group policy: invitations and join requests; joining consumes them", InvitationsAndRequests},
      {"group policy: a ban removes the member and keeps them out until unbanned", Bans},
  };
}

}  // namespace im::testing::conformance
