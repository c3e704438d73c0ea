#include "grpc/convert.h"

namespace im::rpc {

Result<ConversationId> ParseConversationId(const std::string& text) {
  if (text.empty()) return ConversationId();
  auto c = ConversationId::Parse(text);
  if (!c) return Status::InvalidArgument("bad conversation id: " + text);
  return *c;
}

void ToProto(const User& u, v1::User* out) {
  out->set_id(u.id.value);
  out->set_username(u.username);
  out->set_display_name(u.display_name);
  out->set_created_at_ms(u.created_at_ms);
}

User FromProto(const v1::User& u) { return User{UserId(u.id()), u.username(), u.display_name(), u.created_at_ms()}; }

void ToProto(const Group& g, v1::Group* out) {
  out->set_id(g.id.value);
  out->set_name(g.name);
  out->set_owner_id(g.owner.value);
  out->set_member_count(g.member_count);
  out->set_max_members(g.max_members);
  out->set_dismissed(g.dismissed);
  out->set_created_at_ms(g.created_at_ms);
  out->set_join_policy(static_cast<v1::JoinPolicy>(g.join_policy));
  out->set_history_visibility(static_cast<v1::HistoryVisibility>(g.history_visibility));
}

Group FromProto(const v1::Group& g) {
  return Group{GroupId(g.id()),
               g.name(),
               UserId(g.owner_id()),
               g.member_count(),
               g.max_members(),
               g.dismissed(),
               g.created_at_ms(),
               static_cast<JoinPolicy>(g.join_policy()),
               static_cast<HistoryVisibility>(g.history_visibility())};
}

// The proto enums carry the model's numbers; the engine validates them (ValidateGroupSettings).
GroupSettings SettingsFromProto(v1::JoinPolicy policy, v1::HistoryVisibility history) {
  return GroupSettings{static_cast<JoinPolicy>(policy), static_cast<HistoryVisibility>(history)};
}

Result<GroupRelationKind> RelationKindFromProto(v1::GroupRelationKind kind) {
  switch (kind) {
    case v1::GROUP_RELATION_KIND_INVITATION:
      return GroupRelationKind::kInvitation;
    case v1::GROUP_RELATION_KIND_JOIN_REQUEST:
      return GroupRelationKind::kJoinRequest;
    case v1::GROUP_RELATION_KIND_BAN:
      return GroupRelationKind::kBan;
    default:
      return Status::InvalidArgument("unknown group relation kind " + std::to_string(int(kind)));
  }
}

void ToProto(const GroupRelation& r, v1::GroupRelation* out) {
  out->set_group_id(r.group.value);
  out->set_user_id(r.user.value);
  out->set_kind(static_cast<v1::GroupRelationKind>(r.kind));
  out->set_actor_id(r.actor.value);
  out->set_created_at_ms(r.created_at_ms);
}

Result<GroupRelation> FromProto(const v1::GroupRelation& r) {
  IM_ASSIGN_OR_RETURN(GroupRelationKind kind, RelationKindFromProto(r.kind()));
  return GroupRelation{GroupId(r.group_id()), UserId(r.user_id()), kind, UserId(r.actor_id()), r.created_at_ms()};
}

Result<std::vector<GroupRelation>> FromProto(const v1::GroupRelationList& list) {
  std::vector<GroupRelation> out;
  out.reserve(list.relations_size());
  for (const auto& r : list.relations()) {
    IM_ASSIGN_OR_RETURN(GroupRelation relation, FromProto(r));
    out.push_back(std::move(relation));
  }
  return out;
}

void ToProto(const std::vector<GroupRelation>& list, v1::GroupRelationList* out) {
  for (const auto& r : list) ToProto(r, out->add_relations());
}

v1::GroupRole ToProto(GroupRole role) {
  switch (role) {
    case GroupRole::kAdmin:
      return v1::GROUP_ROLE_ADMIN;
    case GroupRole::kOwner:
      return v1::GROUP_ROLE_OWNER;
    case GroupRole::kMember:
      break;
  }
  return v1::GROUP_ROLE_MEMBER;
}

Result<GroupRole> FromProto(v1::GroupRole role) {
  switch (role) {
    case v1::GROUP_ROLE_MEMBER:
      return GroupRole::kMember;
    case v1::GROUP_ROLE_ADMIN:
      return GroupRole::kAdmin;
    case v1::GROUP_ROLE_OWNER:
      return GroupRole::kOwner;
    default:
      return Status::InvalidArgument("unknown group role " + std::to_string(int(role)));
  }
}

void ToProto(const GroupMember& m, v1::GroupMember* out) {
  out->set_user_id(m.user.value);
  out->set_role(ToProto(m.role));
  out->set_joined_at_ms(m.joined_at_ms);
  out->set_joined_seq(m.joined_seq);
}

Result<GroupMember> FromProto(const v1::GroupMember& m) {
  IM_ASSIGN_OR_RETURN(GroupRole role, FromProto(m.role()));
  return GroupMember{UserId(m.user_id()), role, m.joined_at_ms(), m.joined_seq()};
}

void ToProto(const RefreshTokenRecord& r, v1::repo::RefreshToken* out) {
  out->set_token_hash(r.token_hash);
  out->set_user_id(r.user.value);
  out->set_family_id(r.family_id);
  out->set_device_id(r.device);
  out->set_expires_at_ms(r.expires_at_ms);
  out->set_used(r.used);
  out->set_revoked(r.revoked);
}

RefreshTokenRecord FromProto(const v1::repo::RefreshToken& r) {
  return RefreshTokenRecord{r.token_hash(), UserId(r.user_id()), r.family_id(), r.device_id(), r.expires_at_ms(),
                            r.used(),       r.revoked()};
}

v1::repo::PushPlatform PlatformToProto(PushPlatform platform) { return static_cast<v1::repo::PushPlatform>(platform); }

void ToProto(const DeviceToken& t, v1::repo::DeviceToken* out) {
  out->set_user_id(t.user.value);
  out->set_platform(PlatformToProto(t.platform));
  out->set_token(t.token);
  out->set_device_id(t.device);
  out->set_updated_at_ms(t.updated_at_ms);
}

Result<PushPlatform> PlatformFromProto(v1::repo::PushPlatform platform) {
  const int n = static_cast<int>(platform);
  if (n < 0 || n > 255) return Status::InvalidArgument("unknown push platform " + std::to_string(n));
  return static_cast<PushPlatform>(n);  // whether the store keeps it is the store's call
}

Result<DeviceToken> FromProto(const v1::repo::DeviceToken& t) {
  IM_ASSIGN_OR_RETURN(PushPlatform platform, PlatformFromProto(t.platform()));
  return DeviceToken{UserId(t.user_id()), platform, t.token(), t.device_id(), t.updated_at_ms()};
}

void ToProto(const PushSettings& s, v1::repo::PushSettings* out) {
  out->set_muted(s.muted);
  out->set_show_preview(s.show_preview);
}

PushSettings FromProto(const v1::repo::PushSettings& s) { return PushSettings{s.muted(), s.show_preview()}; }

void ToProto(const DeadLetter& d, v1::repo::DeadLetter* out) {
  out->set_id(d.id);
  out->set_topic(d.topic);
  out->set_key(d.key);
  out->set_payload(d.payload);
  out->set_error(d.error);
  out->set_attempts(d.attempts);
  out->set_created_at_ms(d.created_at_ms);
}

DeadLetter FromProto(const v1::repo::DeadLetter& d) {
  return DeadLetter{d.id(), d.topic(), d.key(), d.payload(), d.error(), d.attempts(), d.created_at_ms()};
}

void ToProto(const NewMessage& m, v1::Message* out) {
  im::ToProto(Message{m.id, m.conversation, 0, m.sender, m.client_msg_id, m.type, m.content, m.sent_at_ms}, out);
}

Result<NewMessage> NewMessageFromProto(const v1::Message& m) {
  IM_ASSIGN_OR_RETURN(Message msg, MessageFromProto(m));
  return NewMessage{msg.id,   std::move(msg.conversation), msg.sender,    std::move(msg.client_msg_id),
                    msg.type, std::move(msg.content),      msg.sent_at_ms};
}

Result<Message> MessageFromProto(const v1::Message& m) {
  IM_ASSIGN_OR_RETURN(ConversationId conv, ParseConversationId(m.conversation_id()));
  ContentType type;
  switch (m.type()) {
    case v1::CONTENT_TYPE_TEXT:
      type = ContentType::kText;
      break;
    case v1::CONTENT_TYPE_CUSTOM:
      type = ContentType::kCustom;
      break;
    default:
      return Status::InvalidArgument("unknown content type " + std::to_string(int(m.type())));
  }
  return Message{MessageId(m.id()), std::move(conv), m.seq(), UserId(m.sender_id()), m.client_msg_id(), type,
                 m.content(),       m.sent_at_ms()};
}

void ToProto(const ConversationSummary& c, v1::ConversationSummary* out) {
  out->set_conversation_id(c.id.str());
  out->set_last_seq(c.last_seq);
  out->set_read_seq(c.read_seq);
  out->set_unread(c.unread);
  out->set_last_activity_ms(c.last_activity_ms);
  if (c.last_message) im::ToProto(*c.last_message, out->mutable_last_message());
}

Result<ConversationSummary> FromProto(const v1::ConversationSummary& c) {
  IM_ASSIGN_OR_RETURN(ConversationId id, ParseConversationId(c.conversation_id()));
  ConversationSummary out{std::move(id), c.last_seq(), c.read_seq(), c.unread(), c.last_activity_ms(), std::nullopt};
  if (c.has_last_message()) {
    IM_ASSIGN_OR_RETURN(Message m, MessageFromProto(c.last_message()));
    out.last_message = std::move(m);
  }
  return out;
}

}  // namespace im::rpc
