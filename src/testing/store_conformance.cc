// The Store conformance suite: the executable form of the contract in include/im/store.h.
#include "im/testing/store_conformance.h"

#include <atomic>
#include <set>
#include <thread>

#include "store_conformance_check.h"

namespace im::testing {
namespace {

using conformance::kT0;
using conformance::MakeUser;

NewMessage Msg(const ConversationId& c, UserId sender, std::string key, TimestampMs at = kT0,
               std::string content = "hello") {
  static std::atomic<int64_t> next_id{1};
  return NewMessage{MessageId(next_id++), c, sender, std::move(key), ContentType::kText, std::move(content), at};
}

Status UsersCreateGet(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  EXPECT(a.id.valid());
  EXPECT(a.username == "alice");
  EXPECT_CODE(MakeUser(s, "alice"), StatusCode::kAlreadyExists);
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  EXPECT(b.id != a.id);
  ASSIGN_OK(User got, s.GetUser(a.id));
  EXPECT(got.username == "alice" && got.display_name == "Name of alice" && got.created_at_ms == kT0);
  EXPECT_CODE(s.GetUser(UserId(999'999)), StatusCode::kNotFound);
  ASSIGN_OK(UserCredentials cred, s.GetCredentials("bob"));
  EXPECT(cred.id == b.id && cred.password_hash == "hash-bob");
  EXPECT_CODE(s.GetCredentials("carol"), StatusCode::kNotFound);
  std::vector<UserId> ids{b.id, UserId(999'999), a.id};
  ASSIGN_OK(auto batch, s.GetUsers(ids));
  EXPECT(batch.size() == 2 && batch[0].id == b.id && batch[1].id == a.id);
  return Status::Ok();
}

Status UsersUpdateDelete(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  a.display_name = "Alice A.";
  EXPECT_OK(s.UpdateUser(a));
  ASSIGN_OK(User got, s.GetUser(a.id));
  EXPECT(got.display_name == "Alice A.");
  EXPECT_CODE(s.UpdateUser(User{UserId(999'999), "x", "y", 0}), StatusCode::kNotFound);
  EXPECT_OK(s.UpdatePasswordHash(a.id, "new-hash"));
  ASSIGN_OK(UserCredentials cred, s.GetCredentials("alice"));
  EXPECT(cred.id == a.id && cred.password_hash == "new-hash");
  EXPECT_CODE(s.UpdatePasswordHash(UserId(999'999), "x"), StatusCode::kNotFound);

  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"g", b.id, 10, kT0}));
  EXPECT_OK(s.AddGroupMember(g.id, GroupMember{a.id, GroupRole::kMember, kT0}));
  EXPECT_OK(s.PutRefreshToken(RefreshTokenRecord{"h1", a.id, "fam-a", "phone", kT0 + 1000, false, false}));
  EXPECT_OK(s.DeleteUser(a.id));
  EXPECT_CODE(s.GetUser(a.id), StatusCode::kNotFound);
  EXPECT_CODE(s.GetCredentials("alice"), StatusCode::kNotFound);
  EXPECT_CODE(s.GetGroupMember(g.id, a.id), StatusCode::kNotFound);
  ASSIGN_OK(Group after, s.GetGroup(g.id));
  EXPECT(after.member_count == 1);
  ASSIGN_OK(bool revoked, s.IsRefreshFamilyRevoked("fam-a"));
  EXPECT(revoked);
  EXPECT_CODE(s.DeleteUser(a.id), StatusCode::kNotFound);
  ASSIGN_OK(User again, MakeUser(s, "alice"));  // the name is free again, under a new id
  EXPECT(again.id != a.id);
  return Status::Ok();
}

Status RefreshTokens(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  RefreshTokenRecord r1{"h1", a.id, "fam", "phone", kT0 + 1000, false, false};
  EXPECT_OK(s.PutRefreshToken(r1));
  EXPECT_CODE(s.PutRefreshToken(r1), StatusCode::kAlreadyExists);
  ASSIGN_OK(auto got, s.GetRefreshToken("h1"));
  EXPECT(got.user == a.id && got.family_id == "fam" && got.device == "phone" && !got.used && !got.revoked);
  EXPECT_CODE(s.GetRefreshToken("nope"), StatusCode::kNotFound);
  ASSIGN_OK(bool revoked0, s.IsRefreshFamilyRevoked("fam"));
  EXPECT(!revoked0);
  EXPECT_CODE(s.IsRefreshFamilyRevoked("other"), StatusCode::kNotFound);

  RefreshTokenRecord r2{"h2", a.id, "fam", "phone", kT0 + 2000, false, false};
  EXPECT_OK(s.RotateRefreshToken("h1", r2));
  ASSIGN_OK(auto old, s.GetRefreshToken("h1"));
  EXPECT(old.used);
  // Reuse of h1: the store refuses; the engine then revokes the family.
  RefreshTokenRecord r3{"h3", a.id, "fam", "phone", kT0 + 3000, false, false};
  EXPECT_CODE(s.RotateRefreshToken("h1", r3), StatusCode::kFailedPrecondition);
  EXPECT_CODE(s.GetRefreshToken("h3"), StatusCode::kNotFound);
  EXPECT_CODE(s.RotateRefreshToken("missing", r3), StatusCode::kNotFound);

  // Revoking a user's other families leaves the named one alone.
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  EXPECT_OK(s.PutRefreshToken(RefreshTokenRecord{"o1", a.id, "other", "laptop", kT0 + 1000, false, false}));
  EXPECT_OK(s.PutRefreshToken(RefreshTokenRecord{"b1", b.id, "bobs", "phone", kT0 + 1000, false, false}));
  EXPECT_OK(s.RevokeUserRefreshFamilies(a.id, "fam"));
  ASSIGN_OK(bool other_revoked, s.IsRefreshFamilyRevoked("other"));
  ASSIGN_OK(bool kept, s.IsRefreshFamilyRevoked("fam"));
  ASSIGN_OK(bool bobs, s.IsRefreshFamilyRevoked("bobs"));
  EXPECT(other_revoked && !kept && !bobs);
  ASSIGN_OK(auto o1, s.GetRefreshToken("o1"));
  EXPECT(o1.revoked);

  EXPECT_OK(s.RevokeRefreshFamily("fam"));
  ASSIGN_OK(bool revoked1, s.IsRefreshFamilyRevoked("fam"));
  EXPECT(revoked1);
  ASSIGN_OK(auto h2, s.GetRefreshToken("h2"));
  EXPECT(h2.revoked);
  EXPECT_CODE(s.RotateRefreshToken("h2", r3), StatusCode::kFailedPrecondition);
  return Status::Ok();
}

Status RefreshRotationIsAtomic(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  EXPECT_OK(s.PutRefreshToken(RefreshTokenRecord{"root", a.id, "fam", "d", kT0 + 1000, false, false}));
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      RefreshTokenRecord next{"next" + std::to_string(i), a.id, "fam", "d", kT0 + 2000, false, false};
      if (s.RotateRefreshToken("root", next).ok()) winners++;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT(winners.load() == 1);
  return Status::Ok();
}

// Stores that keep no expiry index may answer not_supported: nothing is pruned then.
Status RefreshTokensPrune(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  // "old": expired and spent, its family revoked; "mixed": one expired, one live token.
  EXPECT_OK(s.PutRefreshToken(RefreshTokenRecord{"o1", a.id, "old", "d", kT0 + 1000, false, false}));
  EXPECT_OK(s.RotateRefreshToken("o1", RefreshTokenRecord{"o2", a.id, "old", "d", kT0 + 2000, false, false}));
  EXPECT_OK(s.RevokeRefreshFamily("old"));
  EXPECT_OK(s.PutRefreshToken(RefreshTokenRecord{"m1", a.id, "mixed", "d", kT0 + 1000, false, false}));
  EXPECT_OK(s.RotateRefreshToken("m1", RefreshTokenRecord{"m2", a.id, "mixed", "d", kT0 + 9000, false, false}));
  auto pruned = s.PruneRefreshTokens(kT0 + 5000);
  if (!pruned.ok() && pruned.status().code() == StatusCode::kNotSupported) return Status::Ok();
  EXPECT_OK(pruned.status());
  EXPECT(*pruned == 3);
  for (const char* gone : {"o1", "o2", "m1"}) EXPECT_CODE(s.GetRefreshToken(gone), StatusCode::kNotFound);
  EXPECT_CODE(s.IsRefreshFamilyRevoked("old"), StatusCode::kNotFound);
  ASSIGN_OK(auto m2, s.GetRefreshToken("m2"));
  EXPECT(m2.family_id == "mixed" && !m2.used);
  ASSIGN_OK(bool mixed_revoked, s.IsRefreshFamilyRevoked("mixed"));
  EXPECT(!mixed_revoked);
  ASSIGN_OK(uint64_t again, s.PruneRefreshTokens(kT0 + 5000));
  EXPECT(again == 0);
  return Status::Ok();
}

Status GroupsMembership(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  ASSIGN_OK(User c, MakeUser(s, "carol"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"friends", a.id, 2, kT0}));
  EXPECT(g.id.valid() && g.owner == a.id && g.member_count == 1 && g.max_members == 2 && !g.dismissed);
  ASSIGN_OK(GroupMember owner, s.GetGroupMember(g.id, a.id));
  EXPECT(owner.role == GroupRole::kOwner);
  EXPECT_CODE(s.GetGroupMember(g.id, b.id), StatusCode::kNotFound);
  EXPECT_CODE(s.GetGroup(GroupId(999'999)), StatusCode::kNotFound);

  EXPECT_OK(s.AddGroupMember(g.id, GroupMember{b.id, GroupRole::kMember, kT0 + 1}));
  EXPECT_CODE(s.AddGroupMember(g.id, GroupMember{b.id, GroupRole::kMember, kT0}), StatusCode::kAlreadyExists);
  EXPECT_CODE(s.AddGroupMember(g.id, GroupMember{c.id, GroupRole::kMember, kT0}), StatusCode::kResourceExhausted);
  EXPECT_CODE(s.AddGroupMember(GroupId(999'999), GroupMember{c.id, GroupRole::kMember, kT0}), StatusCode::kNotFound);
  ASSIGN_OK(Group full, s.GetGroup(g.id));
  EXPECT(full.member_count == 2);

  EXPECT_OK(s.RemoveGroupMember(g.id, b.id));
  EXPECT_CODE(s.RemoveGroupMember(g.id, b.id), StatusCode::kNotFound);
  EXPECT_OK(s.AddGroupMember(g.id, GroupMember{c.id, GroupRole::kMember, kT0 + 2}));
  ASSIGN_OK(Group after, s.GetGroup(g.id));
  EXPECT(after.member_count == 2);

  // The group conversation is on members' lists, and leaves the list on removal.
  ASSIGN_OK(auto clist, s.ListConversations(c.id, {}, 10));
  EXPECT(clist.size() == 1 && clist[0].id == ConversationId::Group(g.id));
  ASSIGN_OK(auto blist, s.ListConversations(b.id, {}, 10));
  EXPECT(blist.empty());
  return Status::Ok();
}

Status GroupsRolesTransferDismiss(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  ASSIGN_OK(User c, MakeUser(s, "carol"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"team", a.id, 100, kT0}));
  EXPECT_OK(s.AddGroupMember(g.id, GroupMember{b.id, GroupRole::kMember, kT0}));
  EXPECT_OK(s.SetGroupMemberRole(g.id, b.id, GroupRole::kAdmin));
  ASSIGN_OK(GroupMember bm, s.GetGroupMember(g.id, b.id));
  EXPECT(bm.role == GroupRole::kAdmin);
  EXPECT_CODE(s.SetGroupMemberRole(g.id, c.id, GroupRole::kAdmin), StatusCode::kNotFound);

  EXPECT_CODE(s.TransferGroupOwnership(g.id, b.id, a.id), StatusCode::kFailedPrecondition);
  EXPECT_CODE(s.TransferGroupOwnership(g.id, a.id, c.id), StatusCode::kNotFound);
  EXPECT_OK(s.TransferGroupOwnership(g.id, a.id, b.id));
  ASSIGN_OK(Group moved, s.GetGroup(g.id));
  EXPECT(moved.owner == b.id);
  ASSIGN_OK(GroupMember am, s.GetGroupMember(g.id, a.id));
  ASSIGN_OK(GroupMember bo, s.GetGroupMember(g.id, b.id));
  EXPECT(am.role == GroupRole::kAdmin && bo.role == GroupRole::kOwner);

  EXPECT_OK(s.DismissGroup(g.id));
  ASSIGN_OK(Group gone, s.GetGroup(g.id));
  EXPECT(gone.dismissed && gone.member_count == 0);
  EXPECT_CODE(s.GetGroupMember(g.id, a.id), StatusCode::kNotFound);
  EXPECT_CODE(s.AddGroupMember(g.id, GroupMember{c.id, GroupRole::kMember, kT0}), StatusCode::kFailedPrecondition);
  ASSIGN_OK(auto alist, s.ListConversations(a.id, {}, 10));
  EXPECT(alist.empty());
  return Status::Ok();
}

Status GroupsMemberPaging(Store& s) {
  ASSIGN_OK(User owner, MakeUser(s, "owner"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"big", owner.id, 1000, kT0}));
  std::set<UserId> expected{owner.id};
  for (int i = 0; i < 25; ++i) {
    ASSIGN_OK(User u, MakeUser(s, "user" + std::to_string(i)));
    EXPECT_OK(s.AddGroupMember(g.id, GroupMember{u.id, GroupRole::kMember, kT0}));
    expected.insert(u.id);
  }
  std::vector<UserId> seen;
  UserId after;
  for (;;) {
    ASSIGN_OK(auto page, s.ListGroupMembers(g.id, after, 7));
    EXPECT(page.size() <= 7);
    if (page.empty()) break;
    for (auto& m : page) seen.push_back(m.user);
    after = page.back().user;
  }
  EXPECT(seen.size() == expected.size());
  EXPECT(std::is_sorted(seen.begin(), seen.end()));
  EXPECT(std::set<UserId>(seen.begin(), seen.end()) == expected);
  return Status::Ok();
}

Status AppendGaplessAndIdempotent(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  auto conv = ConversationId::Direct(a.id, b.id);
  ASSIGN_OK(ConversationState empty, s.GetConversationState(conv));
  EXPECT(empty.last_seq == 0 && empty.first_seq == 1);
  for (Seq i = 1; i <= 5; ++i) {
    ASSIGN_OK(AppendResult r, s.AppendMessage(Msg(conv, i % 2 ? a.id : b.id, "k" + std::to_string(i), kT0 + i)));
    EXPECT(r.seq == i && !r.duplicate && r.conversation == conv);
  }
  // A retry returns the original id and seq and stores nothing.
  NewMessage retry = Msg(conv, a.id, "k1", kT0 + 100, "different content");
  ASSIGN_OK(AppendResult dup, s.AppendMessage(retry));
  EXPECT(dup.duplicate && dup.seq == 1 && dup.id != retry.id && dup.sent_at_ms == kT0 + 1);
  // The same key from another sender is a different message.
  ASSIGN_OK(AppendResult other, s.AppendMessage(Msg(conv, b.id, "k1", kT0 + 6)));
  EXPECT(!other.duplicate && other.seq == 6);
  // Empty keys never collide.
  ASSIGN_OK(AppendResult e1, s.AppendMessage(Msg(conv, a.id, "", kT0 + 7)));
  ASSIGN_OK(AppendResult e2, s.AppendMessage(Msg(conv, a.id, "", kT0 + 8)));
  EXPECT(e1.seq == 7 && e2.seq == 8 && !e2.duplicate);
  ASSIGN_OK(ConversationState st, s.GetConversationState(conv));
  EXPECT(st.last_seq == 8 && st.first_seq == 1 && st.last_activity_ms == kT0 + 8);
  ASSIGN_OK(auto all, s.ListMessages(conv, MessageRange{0, 0, 100, false}));
  EXPECT(all.size() == 8);
  for (size_t i = 0; i < all.size(); ++i) EXPECT(all[i].seq == i + 1);
  EXPECT(all[0].content == "hello" && all[0].sender == a.id && all[0].client_msg_id == "k1");
  EXPECT(all[0].conversation == conv && all[0].type == ContentType::kText && all[0].sent_at_ms == kT0 + 1);
  // Sequences are per conversation.
  ASSIGN_OK(User c, MakeUser(s, "carol"));
  ASSIGN_OK(AppendResult first, s.AppendMessage(Msg(ConversationId::Direct(a.id, c.id), a.id, "x")));
  EXPECT(first.seq == 1);
  return Status::Ok();
}

Status AppendBinaryAndCustomContent(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"g", a.id, 10, kT0}));
  auto conv = ConversationId::Group(g.id);
  NewMessage m = Msg(conv, a.id, "c1", kT0, std::string("{\"k\":\"\xC3\xA9\\u0000\"}\0tail", 18));
  m.type = ContentType::kCustom;
  EXPECT_OK(s.AppendMessage(m));
  ASSIGN_OK(auto got, s.ListMessages(conv, MessageRange{0, 0, 10, false}));
  EXPECT(got.size() == 1 && got[0].content == m.content && got[0].type == ContentType::kCustom);
  EXPECT(got[0].id == m.id);
  return Status::Ok();
}

Status AppendConcurrentGapless(Store& s) {
  ASSIGN_OK(User owner, MakeUser(s, "owner"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"g", owner.id, 100, kT0}));
  auto conv = ConversationId::Group(g.id);
  constexpr int kThreads = 8, kPerThread = 500;
  std::vector<UserId> senders;
  for (int t = 0; t < kThreads; ++t) {
    ASSIGN_OK(User u, MakeUser(s, "sender" + std::to_string(t)));
    EXPECT_OK(s.AddGroupMember(g.id, GroupMember{u.id, GroupRole::kMember, kT0}));
    senders.push_back(u.id);
  }
  std::atomic<int> failures{0}, duplicates_ok{0};
  std::vector<std::vector<std::pair<std::string, Seq>>> acked(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = "t" + std::to_string(t) + "-" + std::to_string(i);
        auto r = s.AppendMessage(Msg(conv, senders[t], key));
        if (!r.ok() || r->duplicate) {
          failures++;
          continue;
        }
        acked[t].push_back({key, r->seq});
        if (i % 10 == 0) {  // a retry of an earlier send must return its original seq
          auto& [old_key, old_seq] = acked[t][acked[t].size() / 2];
          auto d = s.AppendMessage(Msg(conv, senders[t], old_key));
          if (d.ok() && d->duplicate && d->seq == old_seq)
            duplicates_ok++;
          else
            failures++;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT(failures.load() == 0);
  EXPECT(duplicates_ok.load() == kThreads * kPerThread / 10);
  ASSIGN_OK(ConversationState st, s.GetConversationState(conv));
  EXPECT(st.last_seq == Seq(kThreads * kPerThread));
  std::set<Seq> seqs;
  for (auto& v : acked)
    for (auto& [k, seq] : v) seqs.insert(seq);
  EXPECT(seqs.size() == size_t(kThreads * kPerThread));
  EXPECT(*seqs.begin() == 1 && *seqs.rbegin() == Seq(kThreads * kPerThread));
  Seq next = 1;
  for (Seq after = 0;;) {
    ASSIGN_OK(auto page, s.ListMessages(conv, MessageRange{after, 0, 200, false}));
    if (page.empty()) break;
    for (auto& m : page) EXPECT(m.seq == next++);
    after = page.back().seq;
  }
  EXPECT(next == Seq(kThreads * kPerThread) + 1);
  return Status::Ok();
}

Status ListMessagesRanges(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"g", a.id, 10, kT0}));
  auto conv = ConversationId::Group(g.id);
  for (int i = 1; i <= 20; ++i) EXPECT_OK(s.AppendMessage(Msg(conv, a.id, "m" + std::to_string(i))));
  auto seqs = [](const std::vector<Message>& v) {
    std::vector<Seq> out;
    for (auto& m : v) out.push_back(m.seq);
    return out;
  };
  ASSIGN_OK(auto first, s.ListMessages(conv, MessageRange{0, 0, 3, false}));
  EXPECT(seqs(first) == (std::vector<Seq>{1, 2, 3}));
  ASSIGN_OK(auto after, s.ListMessages(conv, MessageRange{17, 0, 10, false}));
  EXPECT(seqs(after) == (std::vector<Seq>{18, 19, 20}));
  ASSIGN_OK(auto latest, s.ListMessages(conv, MessageRange{0, 0, 3, true}));
  EXPECT(seqs(latest) == (std::vector<Seq>{20, 19, 18}));
  ASSIGN_OK(auto before, s.ListMessages(conv, MessageRange{0, 10, 3, true}));
  EXPECT(seqs(before) == (std::vector<Seq>{9, 8, 7}));
  ASSIGN_OK(auto between, s.ListMessages(conv, MessageRange{4, 8, 100, false}));
  EXPECT(seqs(between) == (std::vector<Seq>{5, 6, 7}));
  ASSIGN_OK(auto none, s.ListMessages(ConversationId::Group(GroupId(999'999)), MessageRange{0, 0, 10, false}));
  EXPECT(none.empty());
  return Status::Ok();
}

Status TrimHistory(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"g", a.id, 10, kT0}));
  auto conv = ConversationId::Group(g.id);
  for (int i = 1; i <= 10; ++i) EXPECT_OK(s.AppendMessage(Msg(conv, a.id, "m" + std::to_string(i))));
  EXPECT_OK(s.TrimHistory(conv, 6));
  ASSIGN_OK(ConversationState st, s.GetConversationState(conv));
  EXPECT(st.first_seq == 6 && st.last_seq == 10);
  ASSIGN_OK(auto rest, s.ListMessages(conv, MessageRange{0, 0, 100, false}));
  EXPECT(rest.size() == 5 && rest[0].seq == 6);
  EXPECT_OK(s.TrimHistory(conv, 3));  // never moves backwards
  ASSIGN_OK(ConversationState st2, s.GetConversationState(conv));
  EXPECT(st2.first_seq == 6);
  // Seqs continue after a trim.
  ASSIGN_OK(AppendResult r, s.AppendMessage(Msg(conv, a.id, "m11")));
  EXPECT(r.seq == 11);
  return Status::Ok();
}

Status ConversationListAndReadState(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  ASSIGN_OK(User c, MakeUser(s, "carol"));
  auto ab = ConversationId::Direct(a.id, b.id);
  auto ac = ConversationId::Direct(a.id, c.id);
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"g", b.id, 10, kT0 + 5}));
  auto gc = ConversationId::Group(g.id);
  EXPECT_OK(s.AddGroupMember(g.id, GroupMember{a.id, GroupRole::kMember, kT0 + 6}));

  EXPECT_OK(s.AppendMessage(Msg(ab, a.id, "1", kT0 + 10)));
  EXPECT_OK(s.AppendMessage(Msg(ab, b.id, "2", kT0 + 20)));
  EXPECT_OK(s.AppendMessage(Msg(ab, b.id, "3", kT0 + 30, "third")));
  EXPECT_OK(s.AppendMessage(Msg(ac, c.id, "4", kT0 + 40)));
  EXPECT_OK(s.AppendMessage(Msg(gc, b.id, "5", kT0 + 50)));
  EXPECT_OK(s.AppendMessage(Msg(gc, a.id, "6", kT0 + 60)));

  ASSIGN_OK(auto list, s.ListConversations(a.id, {}, 10));
  EXPECT(list.size() == 3);
  EXPECT(list[0].id == gc && list[1].id == ac && list[2].id == ab);
  // alice sent the last group message: her own send advanced her read pointer.
  EXPECT(list[0].last_seq == 2 && list[0].read_seq == 2 && list[0].unread == 0);
  EXPECT(list[1].last_seq == 1 && list[1].unread == 1);
  EXPECT(list[2].last_seq == 3 && list[2].read_seq == 1 && list[2].unread == 2);
  EXPECT(list[2].last_message.has_value() && list[2].last_message->content == "third");
  EXPECT(list[2].last_activity_ms == kT0 + 30);

  ASSIGN_OK(auto page2, s.ListConversations(a.id, (ConversationCursor{list[0].last_activity_ms, list[0].id}), 1));
  EXPECT(page2.size() == 1 && page2[0].id == ac);
  ASSIGN_OK(auto clist, s.ListConversations(c.id, {}, 10));
  EXPECT(clist.size() == 1 && clist[0].id == ac && clist[0].read_seq == 1);

  // Read pointers: forward only, clamped to last_seq, only for listed conversations.
  ASSIGN_OK(Seq r1, s.AdvanceReadSeq(a.id, ab, 2));
  EXPECT(r1 == 2);
  ASSIGN_OK(Seq r2, s.AdvanceReadSeq(a.id, ab, 1));
  EXPECT(r2 == 2);
  ASSIGN_OK(Seq r3, s.AdvanceReadSeq(a.id, ab, 99));
  EXPECT(r3 == 3);
  ASSIGN_OK(Seq got, s.GetReadSeq(a.id, ab));
  EXPECT(got == 3);
  EXPECT_CODE(s.AdvanceReadSeq(c.id, ab, 1), StatusCode::kNotFound);
  ASSIGN_OK(Seq none, s.GetReadSeq(c.id, ab));
  EXPECT(none == 0);
  ASSIGN_OK(auto after, s.ListConversations(a.id, {}, 10));
  EXPECT(after[2].unread == 0);
  return Status::Ok();
}

Status ConversationListTiesAndCursor(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  std::set<ConversationId> expected;
  for (int i = 0; i < 9; ++i) {  // nine conversations, three per activity time
    ASSIGN_OK(User peer, MakeUser(s, "peer" + std::to_string(i)));
    auto c = ConversationId::Direct(a.id, peer.id);
    EXPECT_OK(s.AppendMessage(Msg(c, peer.id, "m", kT0 + 10 * (i / 3))));
    expected.insert(c);
  }
  std::vector<ConversationSummary> seen;
  ConversationCursor cursor;
  for (int pages = 0; pages < 20; ++pages) {
    ASSIGN_OK(auto page, s.ListConversations(a.id, cursor, 2));
    if (page.empty()) break;
    for (auto& c : page) seen.push_back(c);
    cursor = ConversationCursor{page.back().last_activity_ms, page.back().id};
  }
  EXPECT(seen.size() == expected.size());
  std::set<ConversationId> ids;
  for (auto& c : seen) ids.insert(c.id);
  EXPECT(ids == expected);
  for (size_t i = 1; i < seen.size(); ++i) {
    bool ordered =
        seen[i - 1].last_activity_ms > seen[i].last_activity_ms ||
        (seen[i - 1].last_activity_ms == seen[i].last_activity_ms && seen[i - 1].id.str() > seen[i].id.str());
    EXPECT(ordered);
  }
  return Status::Ok();
}

Status GroupJoinAndOwnerRules(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  ASSIGN_OK(User c, MakeUser(s, "carol"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"g", a.id, 10, kT0 + 5}));
  auto gc = ConversationId::Group(g.id);
  ASSIGN_OK(ConversationState fresh, s.GetConversationState(gc));
  EXPECT(fresh.last_seq == 0 && fresh.last_activity_ms == kT0 + 5);
  ASSIGN_OK(auto alist, s.ListConversations(a.id, {}, 10));
  EXPECT(alist.size() == 1 && alist[0].last_activity_ms == kT0 + 5);
  for (int i = 0; i < 3; ++i) EXPECT_OK(s.AppendMessage(Msg(gc, a.id, "m" + std::to_string(i), kT0 + 10 + i)));
  // Joining starts with nothing unread.
  EXPECT_OK(s.AddGroupMember(g.id, GroupMember{b.id, GroupRole::kMember, kT0 + 20}));
  ASSIGN_OK(Seq joined_read, s.GetReadSeq(b.id, gc));
  EXPECT(joined_read == 3);
  ASSIGN_OK(auto blist, s.ListConversations(b.id, {}, 10));
  EXPECT(blist.size() == 1 && blist[0].unread == 0);

  // One owner, changed only by transfer; the owner can neither be removed nor deleted.
  EXPECT_CODE(s.AddGroupMember(g.id, GroupMember{c.id, GroupRole::kOwner, kT0}), StatusCode::kInvalidArgument);
  EXPECT_CODE(s.SetGroupMemberRole(g.id, b.id, GroupRole::kOwner), StatusCode::kInvalidArgument);
  EXPECT_CODE(s.SetGroupMemberRole(g.id, a.id, GroupRole::kAdmin), StatusCode::kFailedPrecondition);
  EXPECT_CODE(s.RemoveGroupMember(g.id, a.id), StatusCode::kFailedPrecondition);
  EXPECT_CODE(s.DeleteUser(a.id), StatusCode::kFailedPrecondition);
  EXPECT_OK(s.GetUser(a.id));
  EXPECT_OK(s.DismissGroup(g.id));
  EXPECT_OK(s.DeleteUser(a.id));
  return Status::Ok();
}

Status IdempotencyKeyAcrossConversations(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  ASSIGN_OK(User c, MakeUser(s, "carol"));
  auto ab = ConversationId::Direct(a.id, b.id);
  auto ac = ConversationId::Direct(a.id, c.id);
  ASSIGN_OK(AppendResult first, s.AppendMessage(Msg(ab, a.id, "key")));
  EXPECT(first.conversation == ab && !first.duplicate);
  // The same key in another conversation is the same (sender, key): nothing new is stored and
  // the result names where the original went, so the caller can refuse the reuse.
  ASSIGN_OK(AppendResult reuse, s.AppendMessage(Msg(ac, a.id, "key")));
  EXPECT(reuse.duplicate && reuse.conversation == ab && reuse.seq == first.seq && reuse.id == first.id);
  ASSIGN_OK(ConversationState st, s.GetConversationState(ac));
  EXPECT(st.last_seq == 0);
  return Status::Ok();
}

// AppendMessages: one result per message, aligned; seqs in batch order per conversation; a bad
// or duplicate message fails or repeats alone; the effects are those of AppendMessage.
Status AppendBatch(Store& s) {
  ASSIGN_OK(User a, MakeUser(s, "alice"));
  ASSIGN_OK(User b, MakeUser(s, "bob"));
  ASSIGN_OK(User c, MakeUser(s, "carol"));
  ASSIGN_OK(Group g, s.CreateGroup(NewGroup{"g", a.id, 10, kT0}));
  const auto ab = ConversationId::Direct(a.id, b.id);
  const auto group = ConversationId::Group(g.id);
  ASSIGN_OK(AppendResult before, s.AppendMessage(Msg(ab, a.id, "early", kT0 + 1)));
  EXPECT(before.seq == 1);
  std::vector<NewMessage> batch = {
      Msg(ab, a.id, "b1", kT0 + 2),
      Msg(group, a.id, "g1", kT0 + 3),
      Msg(ab, b.id, "b2", kT0 + 4),
      Msg(ab, a.id, "early", kT0 + 5, "a retry"),                     // duplicate of seq 1
      Msg(ConversationId::Direct(b.id, c.id), a.id, "bad", kT0 + 6),  // not a participant
      Msg(group, a.id, "g2", kT0 + 7),
      Msg(ab, a.id, "b1", kT0 + 8, "a retry inside the batch"),  // duplicate of b1
      Msg(ab, b.id, "", kT0 + 9),
  };
  std::vector<Result<AppendResult>> r = s.AppendMessages(batch);
  EXPECT(r.size() == batch.size());
  EXPECT(r[0].ok() && r[0]->seq == 2 && !r[0]->duplicate && r[0]->conversation == ab);
  EXPECT(r[1].ok() && r[1]->seq == 1 && !r[1]->duplicate && r[1]->conversation == group);
  EXPECT(r[2].ok() && r[2]->seq == 3 && !r[2]->duplicate);
  EXPECT(r[3].ok() && r[3]->duplicate && r[3]->seq == 1 && r[3]->id == before.id);
  EXPECT_CODE(r[4], StatusCode::kInvalidArgument);
  EXPECT(r[5].ok() && r[5]->seq == 2 && !r[5]->duplicate);
  EXPECT(r[6].ok() && r[6]->duplicate && r[6]->seq == 2 && r[6]->id == r[0]->id);
  EXPECT(r[7].ok() && r[7]->seq == 4 && !r[7]->duplicate);
  ASSIGN_OK(auto direct, s.ListMessages(ab, MessageRange{0, 0, 100, false}));
  EXPECT(direct.size() == 4);
  for (size_t i = 0; i < direct.size(); ++i) EXPECT(direct[i].seq == i + 1);
  EXPECT(direct[1].client_msg_id == "b1" && direct[1].content == "hello" && direct[2].sender == b.id);
  ASSIGN_OK(auto in_group, s.ListMessages(group, MessageRange{0, 0, 100, false}));
  EXPECT(in_group.size() == 2 && in_group[0].client_msg_id == "g1" && in_group[1].client_msg_id == "g2");
  // Read pointers and lists move as with AppendMessage: the sender has read its own message.
  ASSIGN_OK(Seq bob_read, s.GetReadSeq(b.id, ab));
  EXPECT(bob_read == 4);
  ASSIGN_OK(ConversationState st, s.GetConversationState(ab));
  EXPECT(st.last_seq == 4 && st.last_activity_ms == kT0 + 9);
  // An empty batch is no call at all.
  EXPECT(s.AppendMessages({}).empty());
  return Status::Ok();
}

}  // namespace

std::vector<StoreConformanceCase> StoreConformanceCases() {
  std::vector<StoreConformanceCase> cases{
      {"users: create, get, credentials, batch", UsersCreateGet},
      {"users: update and delete", UsersUpdateDelete},
      {"refresh tokens: rotate, reuse, revoke", RefreshTokens},
      {"refresh tokens: concurrent rotation has one winner", RefreshRotationIsAtomic},
      {"refresh tokens: expired ones and their empty families are pruned", RefreshTokensPrune},
      {"groups: membership, capacity, errors", GroupsMembership},
      {"groups: roles, transfer, dismiss", GroupsRolesTransferDismiss},
      {"groups: member paging", GroupsMemberPaging},
      {"messages: gapless seq and idempotency", AppendGaplessAndIdempotent},
      {"messages: binary-safe content and types", AppendBinaryAndCustomContent},
      {"messages: concurrent appends stay gapless", AppendConcurrentGapless},
      {"messages: ranges and paging", ListMessagesRanges},
      {"messages: trim history", TrimHistory},
      {"conversations: list order, unread, read pointers", ConversationListAndReadState},
      {"conversations: ties and cursor paging", ConversationListTiesAndCursor},
      {"groups: joining reads nothing as unread; owner rules", GroupJoinAndOwnerRules},
      {"messages: an idempotency key reused in another conversation", IdempotencyKeyAcrossConversations},
      {"messages: a batch appends in order, each message failing or repeating alone", AppendBatch},
  };
  for (auto& c : conformance::PushAndDeadLetterCases()) cases.push_back(std::move(c));
  for (auto& c : conformance::GroupPolicyCases()) cases.push_back(std::move(c));
  return cases;
}

std::vector<std::string> RunStoreConformance(const std::function<std::shared_ptr<Store>()>& make_store) {
  std::vector<std::string> failures;
  for (auto& c : StoreConformanceCases()) {
    auto store = make_store();
    Status s = store ? c.run(*store) : Status::Internal("the factory returned no store");
    if (!s.ok()) failures.push_back(c.name + ": " + s.message());
  }
  return failures;
}

}  // namespace im::testing
