#include "common/metrics.h"

#include <cstdio>

namespace im::metrics {

void Histogram::Observe(double seconds) {
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_micros_.fetch_add(static_cast<uint64_t>(seconds * 1e6), std::memory_order_relaxed);
}

void Histogram::Render(const std::string& name, const std::string& labels, std::string* out) const {
  const std::string sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  char line[256];
  for (size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    if (i < kBounds.size()) {
      std::snprintf(line, sizeof line, "%s_bucket{%s%sle=\"%g\"} %llu\n", name.c_str(), labels.c_str(), sep.c_str(),
                    kBounds[i], static_cast<unsigned long long>(cumulative));
    } else {
      std::snprintf(line, sizeof line, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name.c_str(), labels.c_str(), sep.c_str(),
                    static_cast<unsigned long long>(cumulative));
    }
    *out += line;
  }
  const std::string braces = labels.empty() ? "" : "{" + labels + "}";
  std::snprintf(line, sizeof line, "%s_sum%s %.6f\n%s_count%s %llu\n", name.c_str(), braces.c_str(),
                static_cast<double>(sum_micros_.load(std::memory_order_relaxed)) / 1e6, name.c_str(), braces.c_str(),
                static_cast<unsigned long long>(count_.load(std::memory_order_relaxed)));
  *out += line;
}

std::string Registry::RenderPrometheus() const {
  std::string out;
  auto counter = [&](const char* name, const char* help, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " counter\n" + name + " " +
           std::to_string(v) + "\n";
  };
  out += "# HELP im_connections Open WebSocket sessions.\n# TYPE im_connections gauge\nim_connections " +
         std::to_string(connections.value()) + "\n";
  counter("im_frames_in_total", "Frames received from clients.", frames_in.value());
  counter("im_frames_out_total", "Frames queued to clients.", frames_out.value());
  counter("im_messages_sent_total", "Messages acknowledged to their senders.", messages_sent.value());
  counter("im_fanout_deliveries_total", "Events pushed to sessions.", fanout_deliveries.value());
  counter("im_upstream_records_total", "Upstream records (sends, presence changes) handled by the logic half.",
          upstream_records.value());
  counter("im_downstream_events_total",
          "Downstream event records received by the gateway half (one per gateway "
          "per fanout or batch).",
          downstream_events.value());
  counter("im_downstream_results_total", "Send results received by the gateway half.", downstream_results.value());
  counter("im_http_requests_total", "REST requests served.", http_requests.value());
  out += "# HELP im_send_latency_seconds send-message handling, persist to ack.\n";
  out += "# TYPE im_send_latency_seconds histogram\n";
  send_latency.Render("im_send_latency_seconds", "", &out);
  out += "# HELP im_store_latency_seconds Store calls on the message path.\n";
  out += "# TYPE im_store_latency_seconds histogram\n";
  store_append_latency.Render("im_store_latency_seconds", "op=\"append\"", &out);
  store_read_latency.Render("im_store_latency_seconds", "op=\"read\"", &out);
  counter("im_dead_letters_stored_total", "Dead-letter records kept in the Store for listing and re-drive.",
          dead_letters_stored.value());
  out += "# HELP im_connections_refused_total Connections closed at accept, by reason.\n"
         "# TYPE im_connections_refused_total counter\n";
  out += "im_connections_refused_total{reason=\"max_connections\"} " +
         std::to_string(connections_refused_total.value()) + "\n";
  out += "im_connections_refused_total{reason=\"max_connections_per_ip\"} " +
         std::to_string(connections_refused_per_ip.value()) + "\n";
  out += "im_connections_refused_total{reason=\"fd_limit\"} " + std::to_string(connections_shed_fd_limit.value()) +
         "\n";
  out += "# HELP im_auth_refused_total Auth requests refused before running, by reason.\n"
         "# TYPE im_auth_refused_total counter\n";
  out += "im_auth_refused_total{reason=\"ip\"} " + std::to_string(auth_refused_ip.value()) + "\n";
  out += "im_auth_refused_total{reason=\"account\"} " + std::to_string(auth_refused_account.value()) + "\n";
  out += "im_auth_refused_total{reason=\"busy\"} " + std::to_string(auth_refused_busy.value()) + "\n";
  out += "# HELP im_push_total Offline-push notifications by outcome.\n# TYPE im_push_total counter\n";
  out += "im_push_total{outcome=\"delivered\"} " + std::to_string(push_delivered.value()) + "\n";
  out += "im_push_total{outcome=\"invalid_token\"} " + std::to_string(push_invalid_tokens.value()) + "\n";
  out += "im_push_total{outcome=\"rejected\"} " + std::to_string(push_rejected.value()) + "\n";
  out += "im_push_total{outcome=\"retry\"} " + std::to_string(push_retries.value()) + "\n";

  std::lock_guard lock(tasks_mu_);
  if (tasks_.empty()) return out;
  out += "# HELP im_tasks_total Task attempts by type and outcome (ok, retry, dead_letter) and re-drives.\n";
  out += "# TYPE im_tasks_total counter\n";
  for (const auto& [type, m] : tasks_) {
    const std::pair<const char*, uint64_t> outcomes[] = {{"ok", m->succeeded.value()},
                                                         {"retry", m->retried.value()},
                                                         {"dead_letter", m->dead_lettered.value()},
                                                         {"redrive", m->redriven.value()}};
    for (const auto& [outcome, value] : outcomes) {
      out += "im_tasks_total{type=\"" + type + "\",outcome=\"" + outcome + "\"} " + std::to_string(value) + "\n";
    }
  }
  out += "# HELP im_task_duration_seconds One TaskProcessor::Process call, by task type.\n";
  out += "# TYPE im_task_duration_seconds histogram\n";
  for (const auto& [type, m] : tasks_) m->latency.Render("im_task_duration_seconds", "type=\"" + type + "\"", &out);
  return out;
}

TaskMetrics& Registry::Task(std::string_view type) {
  std::lock_guard lock(tasks_mu_);
  auto it = tasks_.find(type);
  if (it == tasks_.end()) it = tasks_.emplace(std::string(type), std::make_unique<TaskMetrics>()).first;
  return *it->second;
}

Registry& Default() {
  static Registry registry;
  return registry;
}

}  // namespace im::metrics
