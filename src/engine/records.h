// Conversion between the engine's C++ types and the im.v1 protobuf records on the Bus.
#ifndef IM_SRC_ENGINE_RECORDS_H_
#define IM_SRC_ENGINE_RECORDS_H_

#include "im/event.h"
#include "im/status.h"
#include "im/v1/records.pb.h"

namespace im {

void ToProto(const Message& m, v1::Message* out);
Result<Message> FromProto(const v1::Message& m);

void ToProto(const Event& e, v1::Event* out);
// invalid_argument for a record that does not describe a valid event (unknown kind, bad ids).
Result<Event> FromProto(const v1::Event& e);

}  // namespace im

#endif  // IM_SRC_ENGINE_RECORDS_H_
