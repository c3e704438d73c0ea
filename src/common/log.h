// Writing structured log lines (see include/im/log.h for where they go).
//
//   im::log::Info("ws.close", {{"conn", conn_id}, {"code", 1000}});
#ifndef IM_SRC_COMMON_LOG_H_
#define IM_SRC_COMMON_LOG_H_

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

#include "im/log.h"

namespace im::log {

struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string(v)) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  std::string_view key;
  std::variant<std::string, int64_t, double> value;
};

bool Enabled(LogLevel level);
void Write(LogLevel level, std::string_view msg, std::initializer_list<Field> fields);

inline void Debug(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(LogLevel::kDebug)) Write(LogLevel::kDebug, msg, fields);
}
inline void Info(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(LogLevel::kInfo)) Write(LogLevel::kInfo, msg, fields);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> fields = {}) {
  if (Enabled(LogLevel::kWarn)) Write(LogLevel::kWarn, msg, fields);
}
inline void Error(std::string_view msg, std::initializer_list<Field> fields = {}) {
  Write(LogLevel::kError, msg, fields);
}

// Makes `trace_id` the current thread's trace until destroyed: every line written meanwhile
// carries it as "trace", and tasks enqueued meanwhile inherit it.
class TraceScope {
 public:
  explicit TraceScope(std::string trace_id);
  ~TraceScope();
  TraceScope(const TraceScope&) = delete;
  TraceScope& operator=(const TraceScope&) = delete;

 private:
  std::string previous_;
};
const std::string& CurrentTrace();

// A random 16-hex-digit id for a request or connection.
std::string NewTraceId();

}  // namespace im::log

#endif  // IM_SRC_COMMON_LOG_H_
