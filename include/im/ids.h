// Strongly typed identifiers. A UserId cannot be passed where a GroupId is expected.
#ifndef IM_IDS_H_
#define IM_IDS_H_

#include <compare>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace im {

template <typename Tag>
struct Id {
  int64_t value = 0;

  constexpr Id() = default;
  constexpr explicit Id(int64_t v) : value(v) {}
  constexpr bool valid() const { return value > 0; }
  friend constexpr auto operator<=>(Id, Id) = default;
};

using UserId = Id<struct UserIdTag>;
using GroupId = Id<struct GroupIdTag>;
// Globally unique, time-ordered (see Options::node_id); assigned by the engine before persisting.
using MessageId = Id<struct MessageIdTag>;

// Per-conversation sequence number: 1, 2, 3, … with no holes. 0 means "nothing".
using Seq = uint64_t;

// A client-chosen device name ("phone", "web-3f9c"): up to 64 printable ASCII bytes.
using DeviceId = std::string;

enum class ConversationKind : uint8_t { kDirect = 1, kGroup = 2 };

// Identifies a conversation without a store lookup, so a gateway can key upstream records by it:
//   direct (1:1) between users a < b  ->  "d:<a>:<b>"
//   group g                           ->  "g:<g>"
class ConversationId {
 public:
  ConversationId() = default;
  static ConversationId Direct(UserId x, UserId y);
  static ConversationId Group(GroupId g);
  // Parses the canonical string form; nullopt for anything else (including "d:2:1" or "d:1:1").
  static std::optional<ConversationId> Parse(std::string_view text);

  bool valid() const { return kind_ != ConversationKind{}; }
  ConversationKind kind() const { return kind_; }
  bool is_direct() const { return kind_ == ConversationKind::kDirect; }
  bool is_group() const { return kind_ == ConversationKind::kGroup; }
  GroupId group() const { return GroupId(a_); }    // group conversations only
  UserId low_user() const { return UserId(a_); }   // direct conversations only
  UserId high_user() const { return UserId(b_); }  // direct conversations only
  bool HasParticipant(UserId u) const { return is_direct() && (u.value == a_ || u.value == b_); }
  // The other participant of a direct conversation (invalid id if `u` is not a participant).
  UserId PeerOf(UserId u) const;

  const std::string& str() const { return text_; }
  friend bool operator==(const ConversationId& x, const ConversationId& y) { return x.text_ == y.text_; }
  friend auto operator<=>(const ConversationId& x, const ConversationId& y) { return x.text_ <=> y.text_; }

 private:
  ConversationKind kind_{};
  int64_t a_ = 0;
  int64_t b_ = 0;
  std::string text_;
};

}  // namespace im

template <typename Tag>
struct std::hash<im::Id<Tag>> {
  size_t operator()(im::Id<Tag> id) const noexcept { return std::hash<int64_t>()(id.value); }
};
template <>
struct std::hash<im::ConversationId> {
  size_t operator()(const im::ConversationId& c) const noexcept { return std::hash<std::string>()(c.str()); }
};

#endif  // IM_IDS_H_
