// The two encodings of WebSocket frames (proto/im/v1/frames.proto): protobuf binary frames, and
// JSON text frames that mirror them field for field:
//   {"type": "send-message", "id": "c1", "conversation_id": "d:1:2", "content": "hi", …}
// "type" names the frame's body (the oneof field, '_' written as '-'), "id" is the request id;
// every other member is a field of the body, by its proto name (proto3 JSON mapping: 64-bit
// integers may be strings or numbers on input and are strings on output).
#ifndef IM_SRC_WIRE_FRAME_CODEC_H_
#define IM_SRC_WIRE_FRAME_CODEC_H_

#include <string>
#include <string_view>

#include "im/status.h"
#include "im/v1/frames.pb.h"

namespace im::wire {

// invalid_argument, naming the problem, for: invalid UTF-8, malformed JSON, a non-object, a
// missing or unknown "type", an "id" that is not a string of at most 64 bytes, unknown fields,
// wrong field types.
Result<v1::ClientFrame> ParseClientJson(std::string_view text);
Result<v1::ServerFrame> ParseServerJson(std::string_view text);
// invalid_argument for bytes that are not a frame or carry no body.
Result<v1::ClientFrame> ParseClientBinary(std::string_view bytes);

// The "id" of a JSON text frame that did not parse as a ClientFrame, so that its error can
// carry it: the member's value when the text is a JSON object whose "id" is a string of at
// most 64 bytes, else "".
std::string FrameIdOf(std::string_view text);

std::string ToJson(const v1::ServerFrame& frame);
std::string ToJson(const v1::ClientFrame& frame);

// "send-message" for a frame whose body is send_message; "" when no body is set.
std::string FrameType(const google::protobuf::Message& frame);

namespace detail {

// The codecs through protobuf's JSON mapping alone, without the fast paths of json_fast.h: what
// ToJson and ParseClientJson fall back to, and what the tests hold the fast paths against.
std::string ToJsonReflection(const google::protobuf::Message& frame);
Result<v1::ClientFrame> ParseClientJsonReflection(std::string_view text);

}  // namespace detail

}  // namespace im::wire

#endif  // IM_SRC_WIRE_FRAME_CODEC_H_
