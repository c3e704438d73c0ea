// Input rules of the engine API. Each returns invalid_argument naming what is wrong.
#ifndef IM_SRC_ENGINE_VALIDATION_H_
#define IM_SRC_ENGINE_VALIDATION_H_

#include <string>
#include <string_view>

#include "im/engine.h"
#include "im/status.h"

namespace im {

// 3-32 of [a-z0-9_.-], starting with a letter or digit. Upper-case ASCII is folded first.
Result<std::string> NormalizeUsername(std::string_view username);
Status ValidatePassword(std::string_view password);
Status ValidateDisplayName(std::string_view name);
Status ValidateDevice(std::string_view device);
Status ValidateGroupName(std::string_view name);
// A join policy and history visibility the engine knows (a number off the wire may be anything).
Status ValidateGroupSettings(const GroupSettings& settings);
Status ValidateSendRequest(const SendRequest& request, uint32_t max_message_bytes);

}  // namespace im

#endif  // IM_SRC_ENGINE_VALIDATION_H_
