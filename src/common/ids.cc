#include "im/ids.h"

#include <algorithm>
#include <charconv>

namespace im {
namespace {

// Parses a positive decimal int64 without sign or leading zeros.
std::optional<int64_t> ParseId(std::string_view s) {
  if (s.empty() || s.size() > 19 || s[0] == '0') return std::nullopt;
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v <= 0) return std::nullopt;
  return v;
}

}  // namespace

ConversationId ConversationId::Direct(UserId x, UserId y) {
  ConversationId c;
  c.kind_ = ConversationKind::kDirect;
  c.a_ = std::min(x.value, y.value);
  c.b_ = std::max(x.value, y.value);
  c.text_ = "d:" + std::to_string(c.a_) + ":" + std::to_string(c.b_);
  return c;
}

ConversationId ConversationId::Group(GroupId g) {
  ConversationId c;
  c.kind_ = ConversationKind::kGroup;
  c.a_ = g.value;
  c.text_ = "g:" + std::to_string(g.value);
  return c;
}

std::optional<ConversationId> ConversationId::Parse(std::string_view text) {
  if (text.size() < 3 || text[1] != ':') return std::nullopt;
  std::string_view rest = text.substr(2);
  if (text[0] == 'g') {
    auto g = ParseId(rest);
    if (!g) return std::nullopt;
    return Group(GroupId(*g));
  }
  if (text[0] == 'd') {
    size_t colon = rest.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    auto a = ParseId(rest.substr(0, colon));
    auto b = ParseId(rest.substr(colon + 1));
    if (!a || !b || *a >= *b) return std::nullopt;
    return Direct(UserId(*a), UserId(*b));
  }
  return std::nullopt;
}

UserId ConversationId::PeerOf(UserId u) const {
  if (!is_direct()) return UserId();
  if (u.value == a_) return UserId(b_);
  if (u.value == b_) return UserId(a_);
  return UserId();
}

}  // namespace im
