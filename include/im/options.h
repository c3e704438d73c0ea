// Options for Engine::Open. Every backend is an object the host passes in; a field left empty
// gets the in-memory default.
#ifndef IM_OPTIONS_H_
#define IM_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "im/bus.h"
#include "im/logic_api.h"
#include "im/model.h"
#include "im/presence.h"
#include "im/push.h"
#include "im/search.h"
#include "im/store.h"
#include "im/task.h"

namespace im {

struct Options {
  std::shared_ptr<Store> store;        // default: NewMemoryStore()
  std::shared_ptr<Bus> bus;            // default: NewInProcessBus()
  std::shared_ptr<Presence> presence;  // default: NewMemoryPresence()

  // Which parts this engine runs (docs/architecture.md §1). imd and embedded hosts run all three.
  bool run_gateway = true;  // local sessions; consumes im-downstream-<gateway_id>
  bool run_logic = true;    // consumes im-upstream (sends, presence changes); serves LogicApi
  bool run_tasks = true;    // consumes im-task, im-task-retry and im-dead-letter (include/im/task.h)
  // Where the LogicApi calls go (im-gateway: OpenRemoteLogic). Empty: this engine's own logic
  // half, which then needs store.
  std::shared_ptr<LogicApi> logic;
  // Unique per gateway: downstream records and send acks for this engine's sessions are
  // published to im-downstream-<gateway_id>.
  std::string gateway_id = "local";
  // Distinguishes message-id generators of several logic instances (0..1023).
  int node_id = 0;

  // ---- auth ----
  // HS256 key for access tokens (>= 32 bytes). Empty: a random key per Open (tokens do not
  // survive a restart). `jwt_key_id` is written to the token's `kid` header.
  std::string jwt_secret;
  std::string jwt_key_id = "k1";
  std::string jwt_issuer = "libim";
  int64_t access_token_ttl_ms = 15 * 60 * 1000;
  int64_t refresh_token_ttl_ms = 30LL * 24 * 3600 * 1000;
  // How long a login this process has seen live (at login, or at an access-token check that read
  // the store) is trusted without reading the store again, so that LogicApi::TryAuthenticate can
  // accept its access tokens on the caller's thread. A logout, password change or refresh-token
  // reuse handled by this process takes effect at once; one handled by another process sharing
  // the store (several im-logic instances) reaches this one's new checks after at most this long
  // (its open sessions are closed by the LoginRevokedEvent within seconds). 0: always read.
  int64_t login_cache_ms = 10'000;
  // PBKDF2-HMAC-SHA256 iterations for new password hashes (OWASP 2023: 600,000). Existing hashes
  // keep the count they were made with.
  int password_iterations = 600'000;

  // ---- limits ----
  uint32_t max_message_bytes = 64 * 1024;
  uint32_t default_max_group_members = 100'000;
  uint32_t max_page = 200;  // cap on any paged read (history, members, conversations)
  // Cap on the messages of one history page or one sync reply, in bytes (content and key plus
  // kMessageReplyOverhead each): a page or reply that would pass it ends early with has_more set,
  // so 200 messages of 64 KiB cannot make one request cost 12.8 MiB of memory and bandwidth. The
  // first message always fits, so paging always progresses.
  uint32_t max_reply_bytes = 1024 * 1024;

  // ---- fanout ----
  // Groups with more members than this are fanned out by task workers in batches.
  uint32_t realtime_fanout_max_members = 500;
  uint32_t fanout_batch_size = 1000;
  int64_t presence_ttl_ms = 120'000;

  // Members of the im-upstream consumer group in this engine's logic half, each handling its
  // share of conversations in order, in batches: a member takes up to upstream_max_batch waiting
  // records at once and persists their sends with one Store::AppendMessages call (one commit),
  // so a few members keep the store busy; more only add thread hand-offs. With a store that
  // answers each call with a network round trip and no batch method, more members overlap more.
  int upstream_consumers = 2;
  uint32_t upstream_max_batch = 512;
  // A send with no ack from the logic half after this fails with deadline_exceeded.
  int64_t send_timeout_ms = 10'000;

  // ---- task workers (include/im/task.h) ----
  // The host's own processors, next to the engine's (im.fanout, im.search, im.push). Registered
  // explicitly here: there is no static self-registration.
  std::vector<std::shared_ptr<TaskProcessor>> task_processors;
  TaskRetryPolicy task_retry;
  int task_consumers = 4;  // im-task records handled at once (push calls block on the network)

  // ---- search ----
  // Where text messages are indexed (task half) and searched (logic half). Empty: no indexing,
  // and Search is not_supported.
  std::shared_ptr<SearchIndex> search;
  // A search without a conversation covers at most this many of the actor's most recent
  // conversations.
  uint32_t search_max_conversations = 1000;

  // ---- offline push ----
  // Produce an im.push task for each recipient of a new message with no online session (logic
  // half, and the task half for large groups).
  bool push_offline = false;
  // Providers per platform (task half); an empty one logs instead (NewLogPushProvider).
  std::shared_ptr<PushProvider> apns;
  std::shared_ptr<PushProvider> fcm;

  // Clock in ms since the epoch; tests replace it to expire tokens.
  std::function<TimestampMs()> clock;
};

}  // namespace im

#endif  // IM_OPTIONS_H_
