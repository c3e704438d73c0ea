// Options for Engine::Open. Every backend is an object the host passes in; a field left empty
// gets the in-memory default.
#ifndef IM_OPTIONS_H_
#define IM_OPTIONS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "im/bus.h"
#include "im/model.h"
#include "im/presence.h"
#include "im/store.h"

namespace im {

struct Options {
  std::shared_ptr<Store> store;        // default: NewMemoryStore()
  std::shared_ptr<Bus> bus;            // default: NewInProcessBus()
  std::shared_ptr<Presence> presence;  // default: NewMemoryPresence()

  // Which halves this engine runs (DESIGN.md §1). imd and embedded hosts run both.
  bool run_gateway = true;  // local sessions, consumes im-downstream-<gateway_id>
  bool run_logic = true;    // consumes im-task (large-group fanout)
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
  // PBKDF2-HMAC-SHA256 iterations for new password hashes (OWASP 2023: 600,000). Existing hashes
  // keep the count they were made with.
  int password_iterations = 600'000;

  // ---- limits ----
  uint32_t max_message_bytes = 64 * 1024;
  uint32_t default_max_group_members = 100'000;
  uint32_t max_page = 200;  // cap on any paged read (history, members, conversations)

  // ---- fanout ----
  // Groups with more members than this are fanned out by task workers in batches.
  uint32_t realtime_fanout_max_members = 500;
  uint32_t fanout_batch_size = 1000;
  int64_t presence_ttl_ms = 120'000;

  // Worker threads that run blocking store calls for the async API (0: hardware concurrency).
  int worker_threads = 0;

  // Clock in ms since the epoch; tests replace it to expire tokens.
  std::function<TimestampMs()> clock;
};

}  // namespace im

#endif  // IM_OPTIONS_H_
