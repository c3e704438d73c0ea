// The dead-letter endpoints, served by imd on its gateway port and by im-task on its admin port:
//
//   GET  /admin/dead-letters?after=<id>&limit=<n>   200 {"dead_letters":[...],"next_after":"<id>"|null}
//   POST /admin/dead-letters/<id>/redrive           204, or 404 not_found for an unknown id
//   DELETE /admin/dead-letters/<id>                 204: discarded without a re-drive
//
// Both need "Authorization: Bearer <admin token>" (401 otherwise). Without a configured admin
// token the paths do not exist (404): operators opt in.
#ifndef IM_SRC_BEAST_DEAD_LETTER_ADMIN_H_
#define IM_SRC_BEAST_DEAD_LETTER_ADMIN_H_

#include <optional>
#include <string_view>

#include "beast/rest_api.h"
#include "im/engine.h"

namespace im::gateway {

// nullopt when the request is not for /admin/…; otherwise the answer.
std::optional<RestResponse> HandleDeadLetterAdmin(Engine& engine, const RestRequest& request,
                                                  std::string_view admin_token);

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_DEAD_LETTER_ADMIN_H_
