#include "common/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <utility>

#include "common/json_string.h"

namespace im {
namespace {

std::atomic<int> g_min_level{static_cast<int>(LogLevel::kWarn)};
std::shared_mutex g_sink_mu;
LogSink g_sink;  // empty: stderr

constexpr std::string_view kLevelNames[] = {"debug", "info", "warn", "error"};

void AppendTimestamp(std::string& out) {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  out += buf;
}

}  // namespace

void SetLogSink(LogSink sink, LogLevel min_level) {
  std::unique_lock lock(g_sink_mu);
  g_sink = std::move(sink);
  g_min_level.store(static_cast<int>(min_level), std::memory_order_relaxed);
}

bool ParseLogLevel(std::string_view name, LogLevel* out) {
  for (int i = 0; i < 4; ++i) {
    if (name == kLevelNames[i]) {
      *out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

namespace log {

bool Enabled(LogLevel level) { return static_cast<int>(level) >= g_min_level.load(std::memory_order_relaxed); }

namespace {
thread_local std::string t_trace;
}  // namespace

TraceScope::TraceScope(std::string trace_id) : previous_(std::exchange(t_trace, std::move(trace_id))) {}
TraceScope::~TraceScope() { t_trace = std::move(previous_); }
const std::string& CurrentTrace() { return t_trace; }

void Write(LogLevel level, std::string_view msg, std::initializer_list<Field> fields) {
  std::string line;
  line.reserve(160);
  line += "{\"ts\":\"";
  AppendTimestamp(line);
  line += "\",\"level\":\"";
  line += kLevelNames[static_cast<int>(level)];
  line += "\",\"msg\":";
  AppendJsonString(line, msg);
  for (const Field& f : fields) {
    line += ',';
    AppendJsonString(line, f.key);
    line += ':';
    if (auto* s = std::get_if<std::string>(&f.value)) {
      AppendJsonString(line, *s);
    } else if (auto* i = std::get_if<int64_t>(&f.value)) {
      line += std::to_string(*i);
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", std::get<double>(f.value));
      line += buf;
    }
  }
  if (!t_trace.empty()) {
    bool has_trace = false;
    for (const Field& f : fields) has_trace = has_trace || f.key == "trace";
    if (!has_trace) {
      line += ",\"trace\":";
      AppendJsonString(line, t_trace);
    }
  }
  line += '}';
  std::shared_lock lock(g_sink_mu);
  if (g_sink) {
    g_sink(level, line);
    return;
  }
  line += '\n';
  // One write per line, so lines from several threads never interleave.
  [[maybe_unused]] auto n = ::write(STDERR_FILENO, line.data(), line.size());
}

std::string NewTraceId() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace log
}  // namespace im
