// Binary (protobuf) frames (src/wire): ParseClientBinary, and the same bytes as a server frame,
// whose fast JSON encoder (json_fast.cc) must print what protobuf's JSON mapping prints. Every
// frame that decodes must survive a trip through JSON and back.
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/util/message_differencer.h>

#include <boost/json/parse.hpp>

#include "fuzz/fuzz_check.h"
#include "wire/frame_codec.h"
#include "wire/json_fast.h"

using google::protobuf::util::MessageDifferencer;

namespace {

// Protobuf logs each invalid UTF-8 string it refuses to stderr; thousands a second slow the run.
[[maybe_unused]] const bool kQuietProtobuf = (google::protobuf::SetLogHandler(nullptr), true);

void ClientFrame(std::string_view bytes) {
  auto frame = im::wire::ParseClientBinary(bytes);
  if (!frame.ok()) {
    FUZZ_CHECK(frame.status().code() == im::StatusCode::kInvalidArgument);
    return;
  }
  FUZZ_CHECK(frame->body_case() != im::v1::ClientFrame::BODY_NOT_SET);
  frame->DiscardUnknownFields();  // JSON has no place for them
  auto reparsed = im::wire::ParseClientBinary(frame->SerializeAsString());
  FUZZ_CHECK(reparsed.ok());
  FUZZ_CHECK(MessageDifferencer::Equals(*frame, *reparsed));
  // The JSON encoding carries the same frame, except for ids the JSON parser refuses (> 64 bytes).
  auto json = im::wire::ParseClientJson(im::wire::ToJson(*frame));
  FUZZ_CHECK(json.ok() == (frame->id().size() <= 64));
  if (json.ok()) FUZZ_CHECK(MessageDifferencer::Equals(*frame, *json));
}

void ServerFrame(std::string_view bytes) {
  im::v1::ServerFrame frame;
  if (!frame.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) return;
  frame.DiscardUnknownFields();
  const std::string mapped = im::wire::detail::ToJsonReflection(frame);
  std::string fast;
  if (im::wire::detail::EncodeServerFrameFast(frame, fast)) {
    boost::system::error_code ec;
    boost::json::value fast_value = boost::json::parse(fast, ec);
    FUZZ_CHECK(!ec);
    FUZZ_CHECK(fast_value == boost::json::parse(mapped));
  }
  if (frame.body_case() == im::v1::ServerFrame::BODY_NOT_SET || frame.id().size() > 64) return;
  auto back = im::wire::ParseServerJson(im::wire::ToJson(frame));
  FUZZ_CHECK(back.ok());
  FUZZ_CHECK(MessageDifferencer::Equals(frame, *back));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes = im::fuzz::AsText(data, size);
  ClientFrame(bytes);
  ServerFrame(bytes);
  return 0;
}
