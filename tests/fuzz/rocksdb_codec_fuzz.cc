// The RocksDB store's values and keys (src/rocksdb/codec.h, schema.h), as read back from a
// database that may be damaged: every decoder on the input; a value that decodes must encode to
// at most as many bytes and decode again to the same record. The input also names keys: a message
// key must give its seq back, and PrefixEnd must bound every key of its prefix.
#include <string>
#include <tuple>

#include "fuzz/fuzz_check.h"
#include "rocksdb/codec.h"
#include "rocksdb/schema.h"

namespace rocks = im::rocks;

namespace {

// Decodes `in`; when it decodes, checks the round trip through the encoder with `fields`, which
// returns the record's fields as a tuple. `added`: bytes a value written by an older schema
// version gains when encoded again (fields appended since, at their defaults).
template <typename Record, typename Decode, typename Encode, typename Fields>
void RoundTrip(std::string_view in, Decode decode, Encode encode, Fields fields, size_t added = 0) {
  Record r{};
  if (!decode(in, &r)) return;
  std::string out;
  encode(r, &out);
  FUZZ_CHECK(out.size() <= in.size() + added);  // varints re-encode minimally
  Record again{};
  FUZZ_CHECK(decode(out, &again));
  FUZZ_CHECK(fields(r) == fields(again));
}

void Values(std::string_view in) {
  RoundTrip<rocks::UserRecord>(in, rocks::DecodeUser, rocks::EncodeUser,
                               [](const auto& r) { return std::tie(r.username, r.display_name, r.created_at_ms); });
  RoundTrip<rocks::TokenRecord>(in, rocks::DecodeToken, rocks::EncodeToken, [](const auto& r) {
    return std::tie(r.user.value, r.family_id, r.device, r.expires_at_ms, r.used, r.revoked);
  });
  RoundTrip<bool>(in, rocks::DecodeFamily, [](bool r, std::string* out) { rocks::EncodeFamily(r, out); },
                  [](const bool& r) { return r; });
  // Version 3 (record format 2) appended a group's join policy and history visibility (2 bytes)
  // and a member's joined seq (1 byte at 0): a format-1 value grows by those when encoded again.
  RoundTrip<rocks::GroupRecord>(
      in, rocks::DecodeGroup, rocks::EncodeGroup,
      [](const auto& r) {
        return std::tie(r.name, r.owner.value, r.member_count, r.max_members, r.dismissed, r.created_at_ms,
                        r.join_policy, r.history_visibility);
      },
      2);
  RoundTrip<rocks::MemberRecord>(
      in, rocks::DecodeMember, rocks::EncodeMember,
      [](const auto& r) { return std::tie(r.role, r.joined_at_ms, r.joined_seq); }, 1);
  RoundTrip<rocks::RelationRecord>(in, rocks::DecodeRelation, rocks::EncodeRelation,
                                   [](const auto& r) { return std::tie(r.actor.value, r.created_at_ms); });
  RoundTrip<rocks::HeadRecord>(in, rocks::DecodeHead, rocks::EncodeHead,
                               [](const auto& r) { return std::tie(r.first_seq, r.last_seq, r.last_activity_ms); });
  RoundTrip<im::Seq>(in, rocks::DecodeReadSeq, [](im::Seq r, std::string* out) { rocks::EncodeReadSeq(r, out); },
                     [](const im::Seq& r) { return r; });
  RoundTrip<rocks::MessageRecord>(in, rocks::DecodeMessage, rocks::EncodeMessage, [](const auto& r) {
    return std::tie(r.id.value, r.sender.value, r.type, r.client_msg_id, r.content, r.sent_at_ms);
  });
  RoundTrip<rocks::IdemRecord>(in, rocks::DecodeIdem, rocks::EncodeIdem, [](const auto& r) {
    return std::tie(r.conversation, r.seq, r.id.value, r.sent_at_ms);
  });
  RoundTrip<rocks::DeviceRecord>(in, rocks::DecodeDevice, rocks::EncodeDevice,
                                 [](const auto& r) { return std::tie(r.user.value, r.device, r.updated_at_ms); });
  RoundTrip<im::PushSettings>(in, rocks::DecodePushSettings, rocks::EncodePushSettings,
                              [](const auto& r) { return std::tie(r.muted, r.show_preview); });
  RoundTrip<im::DeadLetter>(in, rocks::DecodeDeadLetter, rocks::EncodeDeadLetter, [](const auto& r) {
    return std::tie(r.topic, r.key, r.payload, r.error, r.attempts, r.created_at_ms);
  });
  uint64_t counter = 0;
  FUZZ_CHECK(rocks::DecodeU64Value(in, &counter) == (in.size() == 8));
  if (in.size() == 8) FUZZ_CHECK(rocks::U64Key(counter) == in);
}

void Keys(std::string_view in) {
  // A conversation id never holds 0x00 (the separator of message keys); the last 8 bytes are a seq.
  im::Seq seq = in.size();
  std::string conversation(in);
  if (in.size() >= 8) {
    seq = rocks::ReadU64(in.data() + in.size() - 8);
    conversation.resize(in.size() - 8);
  }
  std::erase(conversation, '\0');
  const std::string key = rocks::MessageKey(conversation, seq);
  const std::string prefix = rocks::MessagePrefix(conversation);
  FUZZ_CHECK(key.compare(0, prefix.size(), prefix) == 0);
  im::Seq back = 0;
  FUZZ_CHECK(rocks::SeqOfMessageKey(key, prefix.size(), &back) && back == seq);
  // Every key of a prefix sorts before its end (RocksDB's default comparator is bytewise).
  const std::string end = rocks::PrefixEnd(in);
  if (!end.empty()) {
    FUZZ_CHECK(std::string_view(end) > in);
    FUZZ_CHECK(std::string(in) + "\xff\xff" < end);
  }
  for (char c : rocks::PrintableKey(in)) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in = im::fuzz::AsText(data, size);
  Values(in);
  Keys(in);
  return 0;
}
