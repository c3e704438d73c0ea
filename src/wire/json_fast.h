// Direct JSON coding of the hot WebSocket frames (send-message, ping and ack in; send-ack,
// new-message, pong and error out), without protobuf's reflection-based JSON mapping, which a
// profile showed as a large share of the CPU spent per message. frame_codec.cc tries these first
// and falls back to the mapping for everything they decline, so they only ever reproduce it:
// the decoder gives the ClientFrame body the mapping would give, the encoder JSON that parses to
// the same value as the mapping's output (tests/wire/frame_codec_test.cc checks both).
#ifndef IM_SRC_WIRE_JSON_FAST_H_
#define IM_SRC_WIRE_JSON_FAST_H_

#include <boost/json/fwd.hpp>
#include <string>

#include "im/v1/frames.pb.h"

namespace im::wire::detail {

// Fills `body`, the ClientFrame body the frame's "type" names, from the frame's other members
// (without "type" and "id"). False when it cannot be sure to decode them exactly as the proto3
// JSON mapping would: another frame type, an unknown member, a lowerCamelCase name, null, an enum
// given as a number, an int64 that is neither a JSON integer nor a string of canonical decimal
// digits, a value out of range or of another type. `body` is then partly filled: clear it before
// the mapping decodes it.
bool DecodeClientBodyFast(const boost::json::object& members, google::protobuf::Message& body);

// Appends the JSON text of a send-ack, new-message, pong or error frame to `out`. False (with
// `out` partly written) for the other frame types and for a frame with a string that is not
// valid UTF-8, whose output stays the mapping's own.
bool EncodeServerFrameFast(const v1::ServerFrame& frame, std::string& out);

}  // namespace im::wire::detail

#endif  // IM_SRC_WIRE_JSON_FAST_H_
