#include "rocksdb/codec.h"

#include <limits>

namespace im::rocks {
namespace {

class Encoder {
 public:
  explicit Encoder(std::string* out, uint8_t format = kRecordFormat) : out_(out) {
    out_->clear();
    out_->push_back(static_cast<char>(format));
  }
  void U8(uint8_t v) { out_->push_back(static_cast<char>(v)); }
  void Var(uint64_t v) {
    while (v >= 0x80) {
      out_->push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_->push_back(static_cast<char>(v));
  }
  void I64(int64_t v) { Var((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }  // zigzag
  void Str(std::string_view s) {
    Var(s.size());
    out_->append(s);
  }

 private:
  std::string* out_;
};

// Reads fields in order; any malformed field turns ok() false and every later read into a no-op.
class Decoder {
 public:
  explicit Decoder(std::string_view in) : in_(in) { ok_ = !in_.empty() && U8() == kRecordFormat; }
  // Accepts format 1 or `newer`; format() tells which.
  Decoder(std::string_view in, uint8_t newer) : in_(in) {
    ok_ = !in_.empty();
    format_ = U8();
    ok_ = ok_ && (format_ == kRecordFormat || format_ == newer);
  }
  bool ok() const { return ok_; }
  uint8_t format() const { return format_; }
  // True when every field decoded and nothing is left over.
  bool Done() const { return ok_ && in_.empty(); }

  uint8_t U8() {
    if (in_.empty()) return Fail();
    uint8_t v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  uint64_t Var() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (in_.empty()) return Fail();
      uint8_t byte = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      if (shift == 63 && byte > 1) return Fail();  // more than 64 bits
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    return Fail();
  }
  int64_t I64() {
    uint64_t z = Var();
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  uint32_t U32() {
    uint64_t v = Var();
    if (v > std::numeric_limits<uint32_t>::max()) return Fail();
    return static_cast<uint32_t>(v);
  }
  bool Bool() {
    uint8_t v = U8();
    if (v > 1) return Fail();
    return v == 1;
  }
  std::string_view Str() {
    uint64_t n = Var();
    if (!ok_ || n > in_.size()) {
      Fail();
      return {};
    }
    std::string_view s = in_.substr(0, n);
    in_.remove_prefix(n);
    return s;
  }
  // A positive id.
  int64_t Id() {
    int64_t v = I64();
    if (v <= 0) return Fail();
    return v;
  }

 private:
  uint8_t Fail() {
    ok_ = false;
    in_ = {};
    return 0;
  }

  std::string_view in_;
  bool ok_ = false;
  uint8_t format_ = kRecordFormat;
};

bool ValidType(uint8_t t) {
  return t == static_cast<uint8_t>(ContentType::kText) || t == static_cast<uint8_t>(ContentType::kCustom);
}
bool ValidRole(uint8_t r) { return r <= static_cast<uint8_t>(GroupRole::kOwner); }

}  // namespace

void EncodeUser(const UserRecord& r, std::string* out) {
  Encoder e(out);
  e.Str(r.username);
  e.Str(r.display_name);
  e.I64(r.created_at_ms);
}

bool DecodeUser(std::string_view in, UserRecord* r) {
  Decoder d(in);
  r->username = d.Str();
  r->display_name = d.Str();
  r->created_at_ms = d.I64();
  return d.Done() && !r->username.empty();
}

void EncodeToken(const TokenRecord& r, std::string* out) {
  Encoder e(out);
  e.I64(r.user.value);
  e.Str(r.family_id);
  e.Str(r.device);
  e.I64(r.expires_at_ms);
  e.U8(r.used ? 1 : 0);
  e.U8(r.revoked ? 1 : 0);
}

bool DecodeToken(std::string_view in, TokenRecord* r) {
  Decoder d(in);
  r->user = UserId(d.I64());
  r->family_id = d.Str();
  r->device = d.Str();
  r->expires_at_ms = d.I64();
  r->used = d.Bool();
  r->revoked = d.Bool();
  return d.Done();
}

void EncodeFamily(bool revoked, std::string* out) {
  Encoder e(out);
  e.U8(revoked ? 1 : 0);
}

bool DecodeFamily(std::string_view in, bool* revoked) {
  Decoder d(in);
  *revoked = d.Bool();
  return d.Done();
}

void EncodeGroup(const GroupRecord& r, std::string* out) {
  Encoder e(out, kGroupRecordFormatV3);
  e.Str(r.name);
  e.I64(r.owner.value);
  e.Var(r.member_count);
  e.Var(r.max_members);
  e.U8(r.dismissed ? 1 : 0);
  e.I64(r.created_at_ms);
  e.U8(static_cast<uint8_t>(r.join_policy));
  e.U8(static_cast<uint8_t>(r.history_visibility));
}

bool DecodeGroup(std::string_view in, GroupRecord* r) {
  Decoder d(in, kGroupRecordFormatV3);
  r->name = d.Str();
  r->owner = UserId(d.Id());
  r->member_count = d.U32();
  r->max_members = d.U32();
  r->dismissed = d.Bool();
  r->created_at_ms = d.I64();
  // Format 1 (before schema version 3) ends here and means an open group with full history.
  r->join_policy = JoinPolicy::kOpen;
  r->history_visibility = HistoryVisibility::kFull;
  if (d.format() == kGroupRecordFormatV3) {
    uint8_t policy = d.U8();
    uint8_t history = d.U8();
    if (policy > static_cast<uint8_t>(JoinPolicy::kApproval)) return false;
    if (history > static_cast<uint8_t>(HistoryVisibility::kJoined)) return false;
    r->join_policy = static_cast<JoinPolicy>(policy);
    r->history_visibility = static_cast<HistoryVisibility>(history);
  }
  return d.Done();
}

void EncodeMember(const MemberRecord& r, std::string* out) {
  Encoder e(out, kGroupRecordFormatV3);
  e.U8(static_cast<uint8_t>(r.role));
  e.I64(r.joined_at_ms);
  e.Var(r.joined_seq);
}

bool DecodeMember(std::string_view in, MemberRecord* r) {
  Decoder d(in, kGroupRecordFormatV3);
  uint8_t role = d.U8();
  r->role = static_cast<GroupRole>(role);
  r->joined_at_ms = d.I64();
  r->joined_seq = d.format() == kGroupRecordFormatV3 ? d.Var() : 0;  // format 1: sees everything
  return d.Done() && ValidRole(role);
}

void EncodeRelation(const RelationRecord& r, std::string* out) {
  Encoder e(out);
  e.I64(r.actor.value);
  e.I64(r.created_at_ms);
}

bool DecodeRelation(std::string_view in, RelationRecord* r) {
  Decoder d(in);
  r->actor = UserId(d.Id());
  r->created_at_ms = d.I64();
  return d.Done();
}

void EncodeHead(const HeadRecord& r, std::string* out) {
  Encoder e(out);
  e.Var(r.first_seq);
  e.Var(r.last_seq);
  e.I64(r.last_activity_ms);
}

bool DecodeHead(std::string_view in, HeadRecord* r) {
  Decoder d(in);
  r->first_seq = d.Var();
  r->last_seq = d.Var();
  r->last_activity_ms = d.I64();
  // first_seq is at most one past the last message (everything trimmed).
  return d.Done() && r->first_seq >= 1 && r->first_seq <= r->last_seq + 1;
}

void EncodeReadSeq(Seq read_seq, std::string* out) {
  Encoder e(out);
  e.Var(read_seq);
}

bool DecodeReadSeq(std::string_view in, Seq* read_seq) {
  Decoder d(in);
  *read_seq = d.Var();
  return d.Done();
}

void EncodeMessage(const MessageRecord& r, std::string* out) {
  Encoder e(out);
  e.I64(r.id.value);
  e.I64(r.sender.value);
  e.U8(static_cast<uint8_t>(r.type));
  e.Str(r.client_msg_id);
  e.Str(r.content);
  e.I64(r.sent_at_ms);
}

bool DecodeMessage(std::string_view in, MessageRecord* r) {
  Decoder d(in);
  r->id = MessageId(d.I64());
  r->sender = UserId(d.I64());
  uint8_t type = d.U8();
  r->type = static_cast<ContentType>(type);
  r->client_msg_id = d.Str();
  r->content = d.Str();
  r->sent_at_ms = d.I64();
  return d.Done() && ValidType(type);
}

void EncodeIdem(const IdemRecord& r, std::string* out) {
  Encoder e(out);
  e.Str(r.conversation);
  e.Var(r.seq);
  e.I64(r.id.value);
  e.I64(r.sent_at_ms);
}

bool DecodeIdem(std::string_view in, IdemRecord* r) {
  Decoder d(in);
  r->conversation = d.Str();
  r->seq = d.Var();
  r->id = MessageId(d.I64());
  r->sent_at_ms = d.I64();
  return d.Done() && r->seq >= 1;
}

void EncodeDevice(const DeviceRecord& r, std::string* out) {
  Encoder e(out);
  e.I64(r.user.value);
  e.Str(r.device);
  e.I64(r.updated_at_ms);
}

bool DecodeDevice(std::string_view in, DeviceRecord* r) {
  Decoder d(in);
  r->user = UserId(d.Id());
  r->device = d.Str();
  r->updated_at_ms = d.I64();
  return d.Done();
}

void EncodePushSettings(const PushSettings& r, std::string* out) {
  Encoder e(out);
  e.U8(r.muted ? 1 : 0);
  e.U8(r.show_preview ? 1 : 0);
}

bool DecodePushSettings(std::string_view in, PushSettings* r) {
  Decoder d(in);
  r->muted = d.Bool();
  r->show_preview = d.Bool();
  return d.Done();
}

void EncodeDeadLetter(const DeadLetter& r, std::string* out) {
  Encoder e(out);
  e.Str(r.topic);
  e.Str(r.key);
  e.Str(r.payload);
  e.Str(r.error);
  e.I64(r.attempts);
  e.I64(r.created_at_ms);
}

bool DecodeDeadLetter(std::string_view in, DeadLetter* r) {
  Decoder d(in);
  r->topic = d.Str();
  r->key = d.Str();
  r->payload = d.Str();
  r->error = d.Str();
  int64_t attempts = d.I64();
  r->attempts = static_cast<int>(attempts);
  r->created_at_ms = d.I64();
  return d.Done() && attempts >= std::numeric_limits<int>::min() && attempts <= std::numeric_limits<int>::max();
}

bool DecodeU64Value(std::string_view in, uint64_t* v) {
  if (in.size() != 8) return false;
  *v = ReadU64(in.data());
  return true;
}

Status CorruptValue(Cf cf, std::string_view key) {
  return Status::Internal(std::string("rocksdb store: corrupt value in column family ") + CfName(cf) + " at key " +
                          PrintableKey(key));
}

}  // namespace im::rocks
