// Process-wide metrics in the Prometheus text format: counters, gauges and fixed-bucket
// histograms, lock-free to update. Registered once (static lifetime), rendered by /metrics.
#ifndef IM_SRC_COMMON_METRICS_H_
#define IM_SRC_COMMON_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace im::metrics {

class Counter {
 public:
  void Add(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void Add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Latency histogram with buckets from 50 µs to 10 s.
class Histogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,    0.025,  0.05,    0.1,    0.25,  1,      10};
  void Observe(double seconds);
  // Appends the _bucket/_sum/_count lines of `name` (with `labels`, e.g. op="append").
  void Render(const std::string& name, const std::string& labels, std::string* out) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_micros_{0};
};

// The task workers' metrics for one task type (label type="...").
struct TaskMetrics {
  Counter succeeded;      // attempts that returned ok
  Counter retried;        // failed attempts scheduled again on im-task-retry
  Counter dead_lettered;  // tasks sent to the dead-letter topic
  Counter redriven;       // dead letters of this type sent back to im-task
  Histogram latency;      // one TaskProcessor::Process call, seconds
};

// The metrics libim's daemons export.
struct Registry {
  Gauge connections;               // open WebSocket sessions
  Counter frames_in;               // frames received from clients
  Counter frames_out;              // frames queued to clients (replies and pushes)
  Counter messages_sent;           // send-message frames acknowledged
  Counter fanout_deliveries;       // events pushed to sessions
  Counter http_requests;           // REST requests served
  Counter upstream_records;        // im-upstream records handled by the logic half
  Counter downstream_events;       // im-downstream event records received by the gateway half
  Counter downstream_results;      // im-downstream send results received by the gateway half
  Histogram send_latency;          // send-message frame handled (persist + ack), seconds
  Histogram store_append_latency;  // Store::AppendMessage, seconds
  Histogram store_read_latency;    // Store reads on the send path (access checks, history), seconds

  Counter dead_letters_stored;      // dead-letter records kept in the Store
  Counter push_delivered;           // notifications a push service accepted
  Counter push_invalid_tokens;      // tokens a push service reported dead (then forgotten)
  Counter push_rejected;            // notifications a push service refused for good
  Counter push_retries;             // notifications to retry (429, 5xx, network)

  // Abuse limits of the gateway (docs/http-api.md, "Limits").
  Counter connections_refused_total;   // over GatewayOptions::max_connections
  Counter connections_refused_per_ip;  // over GatewayOptions::max_connections_per_ip
  Counter connections_shed_fd_limit;   // accepted and closed at once: out of file descriptors
  Counter auth_refused_ip;             // auth requests over the per-address limit (429)
  Counter auth_refused_account;        // logins of an account over its failure limit (429)
  Counter auth_refused_busy;           // auth requests refused with the auth pool full (503)

  // The metrics of one task type, created on first use; the reference stays valid.
  TaskMetrics& Task(std::string_view type);

  std::string RenderPrometheus() const;

 private:
  mutable std::mutex tasks_mu_;
  std::map<std::string, std::unique_ptr<TaskMetrics>, std::less<>> tasks_;
};

Registry& Default();

}  // namespace im::metrics

#endif  // IM_SRC_COMMON_METRICS_H_
