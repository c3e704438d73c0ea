// Conversions between the Store seam's C++ types and the im.v1 / im.v1.repo messages.
// FromProto of a request field fails with invalid_argument for what no valid call could send
// (an unparsable conversation id, an unknown role or content type).
#ifndef IM_SRC_GRPC_CONVERT_H_
#define IM_SRC_GRPC_CONVERT_H_

#include "engine/records.h"
#include "im/store.h"
#include "im/v1/model.pb.h"
#include "im/v1/repo.pb.h"

namespace im::rpc {

// "" <-> the default (invalid) ConversationId; anything else must parse.
Result<ConversationId> ParseConversationId(const std::string& text);

void ToProto(const User& u, v1::User* out);
User FromProto(const v1::User& u);

void ToProto(const Group& g, v1::Group* out);
Group FromProto(const v1::Group& g);

GroupSettings SettingsFromProto(v1::JoinPolicy policy, v1::HistoryVisibility history);
Result<GroupRelationKind> RelationKindFromProto(v1::GroupRelationKind kind);
void ToProto(const GroupRelation& r, v1::GroupRelation* out);
Result<GroupRelation> FromProto(const v1::GroupRelation& r);
Result<std::vector<GroupRelation>> FromProto(const v1::GroupRelationList& list);
void ToProto(const std::vector<GroupRelation>& list, v1::GroupRelationList* out);

v1::GroupRole ToProto(GroupRole role);
Result<GroupRole> FromProto(v1::GroupRole role);

void ToProto(const GroupMember& m, v1::GroupMember* out);
Result<GroupMember> FromProto(const v1::GroupMember& m);

void ToProto(const RefreshTokenRecord& r, v1::repo::RefreshToken* out);
RefreshTokenRecord FromProto(const v1::repo::RefreshToken& r);

// Unknown platforms cross the wire unchanged (the store refuses them with invalid_argument).
v1::repo::PushPlatform PlatformToProto(PushPlatform platform);
void ToProto(const DeviceToken& t, v1::repo::DeviceToken* out);
// invalid_argument for a platform number that does not fit im::PushPlatform.
Result<PushPlatform> PlatformFromProto(v1::repo::PushPlatform platform);
Result<DeviceToken> FromProto(const v1::repo::DeviceToken& t);

void ToProto(const PushSettings& s, v1::repo::PushSettings* out);
PushSettings FromProto(const v1::repo::PushSettings& s);

void ToProto(const DeadLetter& d, v1::repo::DeadLetter* out);
DeadLetter FromProto(const v1::repo::DeadLetter& d);

void ToProto(const NewMessage& m, v1::Message* out);
Result<NewMessage> NewMessageFromProto(const v1::Message& m);

// Message -> v1::Message is im::ToProto (engine/records.h). The reverse accepts the empty
// conversation id the seam allows, which im::FromProto refuses.
Result<Message> MessageFromProto(const v1::Message& m);

void ToProto(const ConversationSummary& c, v1::ConversationSummary* out);
Result<ConversationSummary> FromProto(const v1::ConversationSummary& c);

}  // namespace im::rpc

#endif  // IM_SRC_GRPC_CONVERT_H_
