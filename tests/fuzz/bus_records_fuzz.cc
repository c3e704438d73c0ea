// Records read from the bus (proto/im/v1/records.proto, src/engine/records.h): the bytes as each
// record type the engine consumes (downstream, upstream, task and the im.* task payloads), and
// every event and message in them through FromProto. A record may come from a broken or hostile
// producer: decoding must fail cleanly, and what decodes must survive ToProto/FromProto unchanged.
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include "engine/records.h"
#include "fuzz/fuzz_check.h"
#include "im/v1/records.pb.h"

using google::protobuf::util::MessageDifferencer;

namespace {

// Protobuf logs each invalid UTF-8 string it refuses to stderr; thousands a second slow the run.
[[maybe_unused]] const bool kQuietProtobuf = (google::protobuf::SetLogHandler(nullptr), true);

// v1::Message or v1::Event: decodes, and when it does, ToProto and FromProto again change nothing.
template <typename Proto>
void Check(const Proto& proto) {
  auto decoded = im::FromProto(proto);
  if (!decoded.ok()) {
    FUZZ_CHECK(decoded.status().code() == im::StatusCode::kInvalidArgument);
    return;
  }
  Proto once, twice;
  im::ToProto(*decoded, &once);
  auto again = im::FromProto(once);
  FUZZ_CHECK(again.ok());
  im::ToProto(*again, &twice);
  FUZZ_CHECK(MessageDifferencer::Equals(once, twice));
}

void CheckDownstream(const im::v1::DownstreamMessage& d) {
  if (d.has_event()) Check(d.event());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = im::fuzz::AsText(data, size);
  const auto parse = [&](google::protobuf::Message& m) {
    return m.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  };
  if (im::v1::DownstreamMessage d; parse(d)) {
    CheckDownstream(d);
    for (const auto& item : d.items()) CheckDownstream(item);
  }
  im::v1::UpstreamMessage up;  // the logic half uses its fields as they are (logic_core.cc)
  (void)parse(up);
  if (im::v1::TaskMessage task; parse(task)) {
    // The payload of each im.* task type (fanout.cc, search_indexer.cc, push_sender.cc).
    if (im::v1::FanoutTask f; f.ParseFromString(task.payload()) && f.has_event()) Check(f.event());
    if (im::v1::SearchTask s; s.ParseFromString(task.payload())) {
      for (const auto& m : s.index()) Check(m);
    }
    if (im::v1::PushTask p; p.ParseFromString(task.payload()) && p.has_message()) Check(p.message());
  }
  if (im::v1::Event e; parse(e)) Check(e);
  if (im::v1::Message m; parse(m)) Check(m);
  return 0;
}
