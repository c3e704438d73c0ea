// Structured logs. libim writes one JSON object per line:
//   {"ts":"2026-11-29T05:12:00.123Z","level":"info","msg":"http","request_id":"…","status":200,…}
// By default lines at kWarn and above go to stderr; a host routes them into its own logging
// with SetLogSink (the sink is called from many threads and must not block for long).
#ifndef IM_LOG_H_
#define IM_LOG_H_

#include <functional>
#include <string_view>

namespace im {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// `line` is the complete JSON object, without a trailing newline. Pass nullptr to restore the
// stderr sink.
using LogSink = std::function<void(LogLevel level, std::string_view line)>;
void SetLogSink(LogSink sink, LogLevel min_level);
// Parses "debug", "info", "warn", "error"; false for anything else.
bool ParseLogLevel(std::string_view name, LogLevel* out);

}  // namespace im

#endif  // IM_LOG_H_
