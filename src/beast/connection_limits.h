// The gateway's connection caps: open connections in total and per client address. A Slot is
// held for as long as the connection lives (HTTP, then WebSocket) and frees its place when
// destroyed.
#ifndef IM_SRC_BEAST_CONNECTION_LIMITS_H_
#define IM_SRC_BEAST_CONNECTION_LIMITS_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace im::gateway {

class ConnectionLimits {
 public:
  // `max_total` 0: derived from RLIMIT_NOFILE (see GatewayOptions::max_connections);
  // `max_per_ip` 0: no cap per address.
  ConnectionLimits(uint32_t max_total, uint32_t max_per_ip);

  class Slot {
   public:
    Slot() = default;
    Slot(Slot&& other) noexcept : limits_(other.limits_), key_(std::move(other.key_)) { other.limits_ = nullptr; }
    Slot& operator=(Slot&&) = delete;
    ~Slot();
    explicit operator bool() const { return limits_ != nullptr; }

   private:
    friend class ConnectionLimits;
    Slot(ConnectionLimits* limits, std::string key) : limits_(limits), key_(std::move(key)) {}
    ConnectionLimits* limits_ = nullptr;
    std::string key_;  // "" when not counted per address
  };

  enum class Refused { kNo, kTotal, kPerIp };
  // A slot for a connection from `client` (ClientKey); `per_ip` false exempts it from the
  // per-address cap (a trusted proxy). An empty Slot, and why in `*why`, when over a cap.
  [[nodiscard]] Slot TryAcquire(const std::string& client, bool per_ip, Refused* why);

  uint32_t max_total() const { return max_total_; }

 private:
  void Release(const std::string& key);

  const uint32_t max_total_, max_per_ip_;
  std::mutex mu_;
  uint32_t total_ = 0;
  std::unordered_map<std::string, uint32_t> per_ip_;  // only addresses with open connections
};

// GatewayOptions::max_connections when 0: from the soft RLIMIT_NOFILE.
uint32_t DefaultMaxConnections();

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_CONNECTION_LIMITS_H_
