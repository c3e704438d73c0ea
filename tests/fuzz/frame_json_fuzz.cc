// JSON text frames from clients (src/wire): ParseClientJson, its fast path (json_fast.cc) held
// against protobuf's JSON mapping alone, FrameIdOf, and ToJson back to the same frame.
#include <google/protobuf/util/message_differencer.h>

#include "fuzz/fuzz_check.h"
#include "wire/frame_codec.h"

using google::protobuf::util::MessageDifferencer;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = im::fuzz::AsText(data, size);
  auto frame = im::wire::ParseClientJson(text);
  // The fast path may only ever reproduce the mapping: same verdict, same frame.
  auto mapped = im::wire::detail::ParseClientJsonReflection(text);
  FUZZ_CHECK(frame.ok() == mapped.ok());
  // An error for an unreadable frame echoes its id when it can be read (protocol.md); for a frame
  // that parses, that id is the frame's.
  const std::string id = im::wire::FrameIdOf(text);
  if (!frame.ok()) {
    FUZZ_CHECK(frame.status().code() == im::StatusCode::kInvalidArgument);
    FUZZ_CHECK(id.size() <= 64);
    return 0;
  }
  FUZZ_CHECK(MessageDifferencer::Equals(*frame, *mapped));
  FUZZ_CHECK(id == frame->id());
  FUZZ_CHECK(!im::wire::FrameType(*frame).empty());
  // What we print for a client frame parses back to it.
  auto again = im::wire::ParseClientJson(im::wire::ToJson(*frame));
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(MessageDifferencer::Equals(*frame, *again));
  return 0;
}
