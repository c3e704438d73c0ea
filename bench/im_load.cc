// im_load: the load generator for imd. A client of a running imd over real sockets: it registers
// users over REST, opens one WebSocket per user, then sends `send-message` frames on an open-loop
// schedule and measures send-ack latency, delivery latency and throughput, and checks that every
// acknowledged message reached all its recipients. See `im_load --help` and docs/performance.md.
//
// All Beast/Asio template instantiations live in this one translation unit.

#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using Strand = asio::strand<asio::io_context::executor_type>;
using namespace std::chrono_literals;

constexpr auto kTok = asio::as_tuple(asio::use_awaitable);
constexpr int kMaxConnections = 19'000;    // the machines allow 20,000 open files per process
constexpr double kGatewayFrameLimit = 50;  // frames/s per connection (GatewayOptions)
constexpr const char* kPassword = "im-load-password";

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}
Clock::time_point FromNs(int64_t ns) { return Clock::time_point(std::chrono::nanoseconds(ns)); }

void Log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Log(const char* fmt, ...) {
  static const int64_t start = NowNs();
  std::fprintf(stderr, "[%7.2fs] ", (NowNs() - start) / 1e9);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
}

[[noreturn]] void Fail(int code, const std::string& message) {
  std::fprintf(stderr, "im_load: %s\n", message.c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(code);  // no teardown of thousands of sockets and coroutine frames
}

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string target = "127.0.0.1:8080";
  std::string scenario = "direct";
  int connections = 100;
  int members = 100;
  int senders = 1;
  double rate = 1;
  double duration = 30;
  double warmup = 5;
  double drain = 5;
  int threads = 1;
  std::string prefix;
  long server_pid = 0;
  int payload = 64;
  int http_connections = 8;
  int connect_concurrency = 64;
  double setup_timeout = 300;
};

const char* kUsage = R"(usage: im_load [options]

Load generator for imd: registers users over REST, opens one WebSocket per user, sends
`send-message` frames at a fixed rate (open loop), and reports send-ack latency, delivery
latency, throughput, errors and missing deliveries (a human summary, then one JSON line).
Exit code 0: every acknowledged message reached all its recipients and nothing failed;
1: errors, missing or unacknowledged messages, or unexpected closes; 2: bad options or setup
failure; 3: the run overran its time bound.

  --target HOST:PORT[,...]  imd (or im-gateways, WebSockets round robin;
                            loopback only)                               [127.0.0.1:8080]
  --scenario direct|group   direct: pairs chatting 1:1; group: one group [direct]
  --connections N           direct: N users in N/2 pairs (N even, <= 19000)  [100]
  --members M               group: members, one connection each           [100]
  --senders S               group: how many members send                  [1]
  --rate R                  messages/s per sending connection (< 50)      [1]
  --duration SECONDS        measured load (tokens are not refreshed: keep
                            the run within imd's access-token lifetime)   [30]
  --warmup SECONDS          load before measuring: sent and checked for
                            delivery, but not in latencies or rates       [5]
  --drain SECONDS           max wait for outstanding acks/deliveries      [5]
  --threads T               client io threads                             [1]
  --prefix STR              username prefix ([a-z0-9][a-z0-9_.-]*, <= 24)  [random]
  --server-pid PID          sample imd's RSS and CPU from /proc/PID
  --payload BYTES           message content size (>= 40)                  [64]
  --http-connections N      concurrent REST connections during setup      [8]
  --connect-concurrency N   WebSocket handshakes in flight during setup   [64]
  --setup-timeout SECONDS   bound on registration + connection + joins    [300]
  --help
)";

Options ParseOptions(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    std::string value;
    if (auto eq = arg.find('='); eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc) Fail(2, arg + " needs a value (see --help)");
      value = argv[++i];
    }
    auto num = [&](auto& out) {
      char* end = nullptr;
      errno = 0;
      double v = std::strtod(value.c_str(), &end);
      if (value.empty() || *end != '\0' || errno != 0 || !std::isfinite(v)) Fail(2, arg + ": not a number: " + value);
      using T = std::remove_reference_t<decltype(out)>;
      if constexpr (std::is_integral_v<T>) {
        if (v != std::floor(v)) Fail(2, arg + ": not an integer: " + value);
      }
      out = static_cast<std::remove_reference_t<decltype(out)>>(v);
    };
    if (arg == "--target")
      o.target = value;
    else if (arg == "--scenario")
      o.scenario = value;
    else if (arg == "--connections")
      num(o.connections);
    else if (arg == "--members")
      num(o.members);
    else if (arg == "--senders")
      num(o.senders);
    else if (arg == "--rate")
      num(o.rate);
    else if (arg == "--duration")
      num(o.duration);
    else if (arg == "--warmup")
      num(o.warmup);
    else if (arg == "--drain")
      num(o.drain);
    else if (arg == "--threads")
      num(o.threads);
    else if (arg == "--prefix")
      o.prefix = value;
    else if (arg == "--server-pid")
      num(o.server_pid);
    else if (arg == "--payload")
      num(o.payload);
    else if (arg == "--http-connections")
      num(o.http_connections);
    else if (arg == "--connect-concurrency")
      num(o.connect_concurrency);
    else if (arg == "--setup-timeout")
      num(o.setup_timeout);
    else
      Fail(2, "unknown option " + arg + " (see --help)");
  }
  if (o.scenario != "direct" && o.scenario != "group") Fail(2, "--scenario must be direct or group");
  if (o.scenario == "direct") {
    if (o.connections < 2 || o.connections % 2 != 0) Fail(2, "--connections must be an even number >= 2");
  } else {
    if (o.members < 2) Fail(2, "--members must be >= 2");
    if (o.senders < 1 || o.senders > o.members) Fail(2, "--senders must be between 1 and --members");
    o.connections = o.members;
  }
  if (o.connections > kMaxConnections) {
    Fail(2, "refusing " + std::to_string(o.connections) + " connections: at most " + std::to_string(kMaxConnections) +
                " (the limit is 20,000 open files per process)");
  }
  if (!(o.rate > 0) || o.rate >= kGatewayFrameLimit) {
    Fail(2, "--rate must be > 0 and below the gateway's limit of 50 frames/s per connection");
  }
  if (!(o.duration > 0) || o.duration > 3600) Fail(2, "--duration must be in (0, 3600]");
  if (o.warmup < 0 || o.warmup > 600) Fail(2, "--warmup must be in [0, 600]");
  if (o.drain < 0 || o.drain > 120) Fail(2, "--drain must be in [0, 120]");
  if (o.threads < 1 || o.threads > 64) Fail(2, "--threads must be in [1, 64]");
  if (o.payload < 40 || o.payload > 60'000) Fail(2, "--payload must be in [40, 60000]");
  if (o.http_connections < 1 || o.http_connections > 256) Fail(2, "--http-connections must be in [1, 256]");
  if (o.connect_concurrency < 1 || o.connect_concurrency > 4096) Fail(2, "--connect-concurrency must be in [1, 4096]");
  if (!(o.setup_timeout > 0)) Fail(2, "--setup-timeout must be > 0");
  if (o.prefix.empty()) {
    // Unique per run so repeated runs against one data directory do not collide.
    uint64_t t = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch() / 1ms) ^
                 (static_cast<uint64_t>(getpid()) << 40);
    const char* digits = "0123456789abcdefghijklmnopqrstuvwxyz";
    o.prefix = "ld";
    for (int i = 0; i < 9; ++i, t /= 36) o.prefix += digits[t % 36];
  }
  bool ok = o.prefix.size() <= 24 && std::isalnum(static_cast<unsigned char>(o.prefix[0]));
  for (char ch : o.prefix) {
    ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-');
  }
  if (!ok) Fail(2, "--prefix must match [a-z0-9][a-z0-9_.-]* and be at most 24 characters");
  return o;
}

// ---------------------------------------------------------------------------------------------
// /proc sampling of the server and rusage of ourselves

struct ProcSample {
  bool ok = false;
  long rss_kb = 0;
  double cpu_s = 0;
};

ProcSample SampleProcess(long pid) {
  ProcSample s;
  if (pid <= 0) return s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  bool have_rss = false;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      s.rss_kb = std::strtol(line.c_str() + 6, nullptr, 10);
      have_rss = true;
    }
  }
  std::ifstream statf("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(statf)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');
  if (!have_rss || paren == std::string::npos) return s;
  std::istringstream fields(stat.substr(paren + 2));  // from field 3 (state) on
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int n = 3; n <= 15 && (fields >> field); ++n) {
    if (n == 14) utime = std::strtoull(field.c_str(), nullptr, 10);
    if (n == 15) stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  s.cpu_s = static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  s.ok = true;
  return s;
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// Run state

struct Conn {
  explicit Conn(asio::io_context& ioc) : strand(asio::make_strand(ioc)) {}

  // Set up before any coroutine of this connection runs; read-only afterwards.
  int index = 0;
  std::string username;
  std::string user_id;
  std::string token;
  std::string conversation;
  int peer = -1;  // direct: the other side of the pair
  bool sender = false;
  int64_t first_ns = 0;                               // scheduled time of send 0
  int64_t period_ns = 0;                              // between scheduled sends
  uint32_t planned = 0;                               // sends scheduled in warmup + duration
  uint32_t first_measured = 0;                        // sends from this one on are in the measured window
  std::unique_ptr<std::atomic<uint8_t>[]> state;      // per send: 0 unsent, 1 sent, 2 acked, 3 refused
  std::unique_ptr<std::atomic<uint32_t>[]> received;  // per send: distinct recipients that got it

  // Below: touched only on the strand (and by the main thread after the io threads stopped).
  Strand strand;
  // The WebSocket is spoken over the bare socket (RawFrames below): reading several frames per
  // recv and handling a delivery without a JSON parse keeps the generator's cost per received
  // frame low enough to read a server's fanout at hundreds of thousands of frames per second.
  std::optional<tcp::socket> sock;
  std::string in;          // received bytes not yet parsed into frames
  std::string out;         // frames queued while a write is in flight: sent with the next write
  std::string out_flight;  // the write in flight
  uint32_t mask_key = 0;   // client frames are masked (RFC 6455 5.3)
  bool writing = false;
  bool open = false;
  std::vector<int64_t> send_ns;
  std::vector<int64_t> ack_latency_ns;
  std::vector<int64_t> delivery_latency_ns;
  std::unordered_set<uint64_t> seen;  // (sender index << 32 | seq) of deliveries received
  uint64_t sent = 0, sent_measured = 0, acked = 0, acked_measured = 0, refused = 0, duplicate_acks = 0, stray_acks = 0;
  uint64_t delivered = 0, delivered_measured = 0, duplicate_deliveries = 0, echoes = 0, foreign = 0, other_frames = 0,
           not_sent_closed = 0;
  int64_t max_send_lag_ns = 0;
  std::map<std::string, uint64_t> errors;
  std::map<std::string, uint64_t> other_types;  // frames that are none of ours: pong, presence, ...
  std::string close_reason;                     // an unexpected close while measuring
};

struct Run {
  Options opt;
  asio::io_context ioc;
  tcp::endpoint endpoint;                // REST calls (any gateway serves any user)
  std::vector<tcp::endpoint> endpoints;  // WebSockets: connection i goes to endpoints[i % size]
  std::string host;                      // Host header
  std::vector<std::unique_ptr<Conn>> conns;
  uint32_t recipients = 1;  // per message
  std::string group_id;

  std::atomic<bool> measuring{true};
  std::atomic<uint64_t> sent{0}, settled{0}, expected{0}, delivered{0}, closes{0};
  std::atomic<int> readers{0};
  std::mutex mu;
  std::string first_error;  // setup failures
  void SetupError(const std::string& e) {
    std::lock_guard lock(mu);
    if (first_error.empty()) first_error = e;
  }
};

Run* g = nullptr;

// ---------------------------------------------------------------------------------------------
// REST client (HTTP/1.1 keep-alive)

struct HttpConn {
  explicit HttpConn(const asio::any_io_executor& ex) : stream(ex) {}
  beast::tcp_stream stream;
  beast::flat_buffer buffer;
  bool connected = false;
  void Reset() {
    beast::error_code ignored;
    stream.socket().close(ignored);
    buffer.clear();
    connected = false;
  }
};

struct HttpResult {
  int status = 0;
  json::value body;
  std::string error;  // transport failure
};

asio::awaitable<HttpResult> Call(HttpConn& h, http::verb verb, const std::string& target, const std::string& body,
                                 const std::string& token) {
  HttpResult result;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) {
      asio::steady_timer backoff(co_await asio::this_coro::executor, 100ms * attempt);
      co_await backoff.async_wait(kTok);
    }
    if (!h.connected) {
      h.stream.expires_after(10s);
      auto [ec] = co_await h.stream.async_connect(g->endpoint, kTok);
      if (ec) {
        result.error = "connect: " + ec.message();
        h.Reset();
        continue;
      }
      h.connected = true;
    }
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, g->host);
    req.set(http::field::user_agent, "im_load");
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.body() = body;
    }
    req.keep_alive(true);
    req.prepare_payload();
    h.stream.expires_after(30s);
    auto [wec, wn] = co_await http::async_write(h.stream, req, kTok);
    if (wec) {
      result.error = target + ": write: " + wec.message();
      h.Reset();
      continue;
    }
    http::response<http::string_body> res;
    auto [rec, rn] = co_await http::async_read(h.stream, h.buffer, res, kTok);
    if (rec) {
      result.error = target + ": read: " + rec.message();
      h.Reset();
      continue;
    }
    h.stream.expires_never();
    if (!res.keep_alive()) h.Reset();
    result.error.clear();
    result.status = static_cast<int>(res.result_int());
    if (!res.body().empty()) {
      boost::system::error_code ec;
      result.body = json::parse(res.body(), ec);
      if (ec) result.body = json::string(res.body());
    }
    co_return result;
  }
  co_return result;
}

std::string Describe(const HttpResult& r) {
  if (!r.error.empty()) return r.error;
  return "HTTP " + std::to_string(r.status) + " " + json::serialize(r.body);
}

std::string StringMember(const json::value& v, std::string_view name) {
  if (!v.is_object()) return "";
  auto* p = v.as_object().if_contains(name);
  if (p == nullptr) return "";
  if (p->is_string()) return std::string(p->get_string());
  if (p->is_int64()) return std::to_string(p->get_int64());
  if (p->is_uint64()) return std::to_string(p->get_uint64());
  return "";
}

// Outside the coroutines: g++ 12 rejects string literals in braced initializers inside them.
std::string Credentials(const std::string& username, bool with_device) {
  json::object o{{"username", username}, {"password", kPassword}};
  if (with_device) o["device"] = "im_load";
  return json::serialize(o);
}

// Open: the members join it by id (new groups are invite-only by default).
std::string GroupBody(const std::string& name) {
  return json::serialize(json::object{{"name", name}, {"join_policy", "open"}});
}

// Registers (409: already there from a retried request) and logs in users [next..) until done.
asio::awaitable<void> RegisterWorker(std::shared_ptr<std::atomic<int>> next) {
  HttpConn h(co_await asio::this_coro::executor);
  for (;;) {
    int i = next->fetch_add(1);
    if (i >= static_cast<int>(g->conns.size())) break;
    Conn& c = *g->conns[i];
    const std::string no_token, register_path = "/api/v1/auth/register", login_path = "/api/v1/auth/login";
    auto reg = co_await Call(h, http::verb::post, register_path, Credentials(c.username, false), no_token);
    if (reg.status != 201 && reg.status != 409) {
      g->SetupError("register " + c.username + ": " + Describe(reg));
      break;
    }
    auto login = co_await Call(h, http::verb::post, login_path, Credentials(c.username, true), no_token);
    c.user_id = StringMember(login.body, "user_id");
    c.token = StringMember(login.body, "access_token");
    if (login.status != 200 || c.user_id.empty() || c.token.empty()) {
      g->SetupError("login " + c.username + ": " + Describe(login));
      break;
    }
  }
  h.Reset();
}

asio::awaitable<void> JoinWorker(std::shared_ptr<std::atomic<int>> next) {
  HttpConn h(co_await asio::this_coro::executor);
  for (;;) {
    int i = next->fetch_add(1);
    if (i >= static_cast<int>(g->conns.size())) break;
    Conn& c = *g->conns[i];
    const std::string path = "/api/v1/groups/" + g->group_id + "/join", empty_object = "{}";
    auto r = co_await Call(h, http::verb::post, path, empty_object, c.token);
    if (r.status != 204 && r.status != 409) {
      g->SetupError("join " + c.username + ": " + Describe(r));
      break;
    }
  }
  h.Reset();
}

asio::awaitable<HttpResult> CreateGroup() {
  HttpConn h(co_await asio::this_coro::executor);
  const std::string path = "/api/v1/groups";
  const std::string body = GroupBody(g->opt.prefix + " load group");
  auto r = co_await Call(h, http::verb::post, path, body, g->conns[0]->token);
  h.Reset();
  co_return r;
}

// ---------------------------------------------------------------------------------------------
// WebSocket connections

void MarkClosed(Conn& c, const std::string& reason) {
  if (!c.open) return;
  c.open = false;  // the queue is dropped by WriteLoop: its front may be the write in flight
  if (g->measuring.load()) {
    g->closes.fetch_add(1);
    c.close_reason = reason;
  }
}

// ---- Raw WebSocket frames (client side of RFC 6455) ----

// Appends one final frame from the client: masked with the connection's key.
void AppendClientFrame(std::string& out, uint8_t opcode, std::string_view payload, uint32_t key) {
  const size_t n = payload.size();
  out += static_cast<char>(0x80 | opcode);
  if (n < 126) {
    out += static_cast<char>(0x80 | n);
  } else if (n <= 0xFFFF) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((static_cast<uint64_t>(n) >> shift) & 0xFF);
  }
  const uint8_t mask[4] = {static_cast<uint8_t>(key >> 24), static_cast<uint8_t>(key >> 16),
                           static_cast<uint8_t>(key >> 8), static_cast<uint8_t>(key)};
  out.append(reinterpret_cast<const char*>(mask), 4);
  const size_t at = out.size();
  out.append(payload);
  for (size_t i = 0; i < n; ++i) out[at + i] = static_cast<char>(static_cast<uint8_t>(out[at + i]) ^ mask[i & 3]);
}

struct ServerFrame {
  uint8_t opcode = 0;
  std::string_view payload;
};

// The next whole frame at the front of `in` (the server's frames are unmasked and, from imd,
// never fragmented); returns the bytes it spans, 0 when more bytes are needed, -1 when the
// frame is one im_load does not take (masked, fragmented, over 16 MiB).
ptrdiff_t NextServerFrame(std::string_view in, ServerFrame& frame) {
  if (in.size() < 2) return 0;
  const auto b0 = static_cast<uint8_t>(in[0]), b1 = static_cast<uint8_t>(in[1]);
  if ((b0 & 0x80) == 0 || (b0 & 0x0F) == 0 || (b1 & 0x80) != 0) return -1;
  uint64_t n = b1 & 0x7F;
  size_t off = 2;
  if (n == 126) {
    if (in.size() < 4) return 0;
    n = (static_cast<uint64_t>(static_cast<uint8_t>(in[2])) << 8) | static_cast<uint8_t>(in[3]);
    off = 4;
  } else if (n == 127) {
    if (in.size() < 10) return 0;
    n = 0;
    for (int i = 2; i < 10; ++i) n = (n << 8) | static_cast<uint8_t>(in[i]);
    off = 10;
  }
  if (n > (16u << 20)) return -1;
  if (in.size() < off + n) return 0;
  frame.opcode = b0 & 0x0F;
  frame.payload = in.substr(off, n);
  return static_cast<ptrdiff_t>(off + n);
}

asio::awaitable<void> WriteLoop(Conn& c) {
  while (c.open && !c.out.empty()) {
    c.out_flight.swap(c.out);  // everything queued so far goes out in one write
    auto [ec, n] = co_await asio::async_write(*c.sock, asio::buffer(c.out_flight), kTok);
    c.out_flight.clear();
    if (ec) {
      MarkClosed(c, "write failed: " + ec.message());
      break;
    }
  }
  if (!c.open) c.out.clear();
  c.writing = false;
}

// On the strand.
void EnqueueFrame(Conn& c, uint8_t opcode, std::string_view payload) {
  if (!c.open) return;
  AppendClientFrame(c.out, opcode, payload, c.mask_key);
  if (!c.writing) {
    c.writing = true;
    asio::co_spawn(c.strand, WriteLoop(c), asio::detached);
  }
}

void Enqueue(Conn& c, const std::string& text) { EnqueueFrame(c, 0x1, text); }

template <typename T>
bool ParseNumber(std::string_view s, T& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::string_view StringView(const json::object& o, std::string_view name) {
  auto* p = o.if_contains(name);
  if (p == nullptr || !p->is_string()) return {};
  return p->get_string();
}

// A delivery of the message `content` ("<send ns>:<sender index>:<seq>:<padding>") from
// `sender_id`, on the strand of its receiving connection.
void HandleDelivery(Conn& c, int64_t now, std::string_view sender_id, std::string_view content) {
  if (sender_id == c.user_id) {
    ++c.echoes;  // our own message (not expected, but not a delivery either)
    return;
  }
  int64_t ts = 0;
  uint32_t from = 0, mseq = 0;
  size_t a = content.find(':');
  size_t b = a == std::string_view::npos ? a : content.find(':', a + 1);
  size_t e = b == std::string_view::npos ? b : content.find(':', b + 1);
  if (e == std::string_view::npos || !ParseNumber(content.substr(0, a), ts) ||
      !ParseNumber(content.substr(a + 1, b - a - 1), from) || !ParseNumber(content.substr(b + 1, e - b - 1), mseq) ||
      from >= g->conns.size() || !g->conns[from]->sender || mseq >= g->conns[from]->planned) {
    ++c.foreign;
    return;
  }
  Conn& s = *g->conns[from];
  if (!c.seen.insert((static_cast<uint64_t>(from) << 32) | mseq).second) {
    ++c.duplicate_deliveries;
    return;
  }
  s.received[mseq].fetch_add(1, std::memory_order_relaxed);
  ++c.delivered;
  g->delivered.fetch_add(1, std::memory_order_relaxed);
  if (mseq >= s.first_measured) {
    ++c.delivered_measured;
    c.delivery_latency_ns.push_back(now - ts);
  }
}

// The string value of `"name":"..."` in `text` when it holds no escapes; nullopt when absent.
std::optional<std::string_view> PlainStringMember(std::string_view text, std::string_view quoted_name_colon_quote) {
  size_t at = text.find(quoted_name_colon_quote);
  if (at == std::string_view::npos) return std::nullopt;
  at += quoted_name_colon_quote.size();
  size_t end = text.find('"', at);
  if (end == std::string_view::npos) return std::nullopt;
  std::string_view value = text.substr(at, end - at);
  if (value.find('\\') != std::string_view::npos) return std::nullopt;
  return value;
}

// A frame from the server, on the strand of its connection.
void HandleFrame(Conn& c, std::string_view text) {
  const int64_t now = NowNs();
  // Deliveries are most of what a fanout run receives: read the two members they need without
  // parsing the frame (the members' names occur nowhere else in it; the content is ours).
  constexpr std::string_view kNewMessage = R"({"type":"new-message")";
  if (text.substr(0, kNewMessage.size()) == kNewMessage) {
    auto sender = PlainStringMember(text, R"("sender_id":")");
    auto content = PlainStringMember(text, R"("content":")");
    if (sender && content) return HandleDelivery(c, now, *sender, *content);
  }
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    ++c.errors["client: unparsable frame"];
    return;
  }
  const json::object& o = v.as_object();
  std::string_view type = StringView(o, "type");
  std::string_view id = StringView(o, "id");
  uint32_t seq = 0;
  const bool our_send = id.size() > 1 && id[0] == 'm' && ParseNumber(id.substr(1), seq) && seq < c.planned;

  if (type == "new-message") {
    auto* mp = o.if_contains("message");
    if (mp == nullptr || !mp->is_object()) {
      ++c.foreign;
      return;
    }
    const json::object& m = mp->as_object();
    HandleDelivery(c, now, StringView(m, "sender_id"), StringView(m, "content"));
  } else if (type == "send-ack") {
    if (!our_send) {
      ++c.stray_acks;
      return;
    }
    uint8_t expected = 1;
    if (!c.state[seq].compare_exchange_strong(expected, 2)) {
      ++c.duplicate_acks;
      return;
    }
    ++c.acked;
    g->settled.fetch_add(1);
    g->expected.fetch_add(g->recipients);
    if (seq >= c.first_measured) {
      ++c.acked_measured;
      c.ack_latency_ns.push_back(now - c.send_ns[seq]);
    }
  } else if (type == "error") {
    std::string_view code = StringView(o, "code");
    ++c.errors[code.empty() ? std::string("(no code)") : std::string(code)];
    uint8_t expected = 1;
    if (our_send && c.state[seq].compare_exchange_strong(expected, 3)) {
      ++c.refused;
      g->settled.fetch_add(1);
    }
  } else {
    ++c.other_frames;  // pong, presence, typing, read receipts
    ++c.other_types[type.empty() ? std::string("(no type)") : std::string(type)];
  }
}

// Handles every whole frame at the front of c.in and drops them; false when the connection
// must close (a close frame, or a frame im_load does not take: `why` says which).
bool HandleFrames(Conn& c, std::string& why, bool* pong = nullptr) {
  size_t used = 0;
  bool ok = true;
  for (;;) {
    ServerFrame f;
    ptrdiff_t n = NextServerFrame(std::string_view(c.in).substr(used), f);
    if (n == 0) break;
    if (n < 0) {
      why = "a frame im_load does not take (masked, fragmented or over 16 MiB)";
      ok = false;
      break;
    }
    used += static_cast<size_t>(n);
    if (f.opcode == 0x1 || f.opcode == 0x2) {
      if (pong != nullptr) {
        *pong = *pong || f.payload.find("\"pong\"") != std::string_view::npos;
      } else {
        HandleFrame(c, f.payload);
      }
    } else if (f.opcode == 0x9) {
      EnqueueFrame(c, 0xA, f.payload);  // the server's heartbeat
    } else if (f.opcode == 0x8) {
      unsigned code = f.payload.size() >= 2 ? (static_cast<unsigned>(static_cast<uint8_t>(f.payload[0])) << 8) |
                                                  static_cast<uint8_t>(f.payload[1])
                                            : 1005;
      why = "closed by server: code " + std::to_string(code) + " \"" +
            std::string(f.payload.size() > 2 ? f.payload.substr(2) : std::string_view()) + "\"";
      ok = false;
      break;
    }
  }
  c.in.erase(0, used);
  return ok;
}

// Reads into c.in (several frames per read when the server has sent them) until the
// connection ends.
asio::awaitable<void> ReadLoop(Conn& c) {
  constexpr size_t kReadChunk = 16 * 1024;
  for (;;) {
    const size_t have = c.in.size();
    c.in.resize(have + kReadChunk);
    auto [ec, n] = co_await c.sock->async_read_some(asio::buffer(c.in.data() + have, kReadChunk), kTok);
    c.in.resize(have + n);
    if (ec) {
      MarkClosed(c, ec == asio::error::eof ? std::string("closed by server without a close frame") : ec.message());
      break;
    }
    std::string why;
    if (!HandleFrames(c, why)) {
      MarkClosed(c, why);
      break;
    }
  }
  g->readers.fetch_sub(1);
}

uint32_t MaskKey() {
  static thread_local std::mt19937 random(std::random_device{}());  // a random_device per call costs a syscall
  return static_cast<uint32_t>(random());
}

// Thousands of connections from one source address to one server port make the kernel's
// ephemeral-port search in connect() scan ports in use (__inet_check_established was ~60 % of
// im_load's CPU at 19,000 connections). An IPv4 loopback target is reachable from every
// 127.0.0.0/8 address, so connection i binds to 127.0.0.(2 + i % 64) and leaves the port to
// connect() (IP_BIND_ADDRESS_NO_PORT): each source address has its own port space.
std::string BindSource(tcp::socket& sock, const tcp::endpoint& target, int index) {
  boost::system::error_code ec;
  sock.open(target.protocol(), ec);
  if (ec) return "socket: " + ec.message();
  if (!target.address().is_v4()) return "";
  int one = 1;
  ::setsockopt(sock.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  const auto source = asio::ip::make_address_v4((127u << 24) | static_cast<uint32_t>(2 + index % 64));
  sock.bind(tcp::endpoint(source, 0), ec);
  if (ec) return "bind " + source.to_string() + ": " + ec.message();
  return "";
}

// The upgrade request with the bearer token; the key is RFC 6455's example, whose accept value
// the 101 must carry.
std::string UpgradeRequest(const Conn& c) {
  return "GET /ws HTTP/1.1\r\nHost: " + g->host +
         "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nUser-Agent: im_load\r\nAuthorization: Bearer " +
         c.token + "\r\n\r\n";
}

// TCP connect, upgrade with the bearer token, then ping until the pong: the session is attached
// to the engine once the server reads frames. Returns "" or what failed.
asio::awaitable<std::string> ConnectOne(Conn& c) {
  std::string err;
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) {
      asio::steady_timer backoff(c.strand, 250ms * attempt);
      co_await backoff.async_wait(kTok);
    }
    c.sock.emplace(c.strand);
    c.in.clear();
    c.out.clear();
    c.mask_key = MaskKey();
    const tcp::endpoint& target = g->endpoints[c.index % g->endpoints.size()];
    if (std::string bind_error = BindSource(*c.sock, target, c.index); !bind_error.empty()) {
      err = bind_error;
      continue;
    }
    // Each step is bounded: a server that stops answering fails the attempt, not the run.
    asio::steady_timer deadline(c.strand, 15s);
    deadline.async_wait([&c](boost::system::error_code ec) {
      if (!ec && c.sock) {
        boost::system::error_code ignored;
        c.sock->close(ignored);
      }
    });
    auto [cec] = co_await c.sock->async_connect(target, kTok);
    if (cec) {
      err = "connect: " + cec.message();
      continue;
    }
    c.sock->set_option(tcp::no_delay(true));
    const std::string request = UpgradeRequest(c);
    auto [wec, wn] = co_await asio::async_write(*c.sock, asio::buffer(request), kTok);
    if (wec) {
      err = "upgrade request: " + wec.message();
      continue;
    }
    size_t head_end = std::string::npos;
    while (head_end == std::string::npos) {
      char chunk[4096];
      auto [rec, rn] = co_await c.sock->async_read_some(asio::buffer(chunk), kTok);
      if (rec) break;
      c.in.append(chunk, rn);
      head_end = c.in.find("\r\n\r\n");
      if (head_end == std::string::npos && c.in.size() > 16 * 1024) break;
    }
    if (head_end == std::string::npos) {
      err = "handshake: no complete response";
      continue;
    }
    const std::string head = c.in.substr(0, head_end);
    c.in.erase(0, head_end + 4);  // frames sent right after the 101 stay for the frame reader
    if (head.rfind("HTTP/1.1 101", 0) != 0 || head.find("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == std::string::npos) {
      err = "handshake: " + head.substr(0, head.find("\r\n")) + " " + c.in.substr(0, 200);
      continue;
    }
    c.open = true;
    Enqueue(c, R"({"type":"ping","id":"hello","client_time_ms":"0"})");
    bool pong = false;
    std::string why;
    while (!pong && why.empty()) {
      if (!HandleFrames(c, why, &pong) || pong) break;
      const size_t have = c.in.size();
      c.in.resize(have + 4096);
      auto [rec, rn] = co_await c.sock->async_read_some(asio::buffer(c.in.data() + have, 4096), kTok);
      c.in.resize(have + rn);
      if (rec) why = "waiting for pong: " + rec.message();
    }
    if (!pong) {
      c.open = false;
      err = why.empty() ? "no pong" : why;
      continue;
    }
    deadline.cancel();
    g->readers.fetch_add(1);
    asio::co_spawn(c.strand, ReadLoop(c), asio::detached);
    co_return "";
  }
  co_return err;
}

asio::awaitable<void> ConnectWorker(std::shared_ptr<std::atomic<int>> next) {
  for (;;) {
    int i = next->fetch_add(1);
    if (i >= static_cast<int>(g->conns.size())) break;
    Conn& c = *g->conns[i];
    std::string err = co_await asio::co_spawn(c.strand, ConnectOne(c), asio::use_awaitable);
    if (!err.empty()) {
      g->SetupError("WebSocket of " + c.username + ": " + err);
      break;
    }
  }
}

// The open-loop sender: frame k goes out at first_ns + k * period_ns, whether or not earlier
// frames were acknowledged.
asio::awaitable<void> SendLoop(Conn& c) {
  asio::steady_timer timer(c.strand);
  const std::string head_id = std::string(R"({"type":"send-message","id":"m)");
  const std::string conversation = R"(","conversation_id":")" + c.conversation + R"(","client_msg_id":")" +
                                   g->opt.prefix + "-" + std::to_string(c.index) + "-";
  const std::string padding(static_cast<size_t>(g->opt.payload), 'x');
  for (uint32_t k = 0; k < c.planned; ++k) {
    const int64_t when = c.first_ns + static_cast<int64_t>(k) * c.period_ns;
    timer.expires_at(FromNs(when));
    co_await timer.async_wait(kTok);
    if (!c.open) {
      c.not_sent_closed += c.planned - k;
      break;
    }
    const int64_t now = NowNs();
    c.max_send_lag_ns = std::max(c.max_send_lag_ns, now - when);
    std::string content = std::to_string(now) + ":" + std::to_string(c.index) + ":" + std::to_string(k) + ":";
    if (content.size() < padding.size()) content.append(padding, 0, padding.size() - content.size());
    std::string frame;
    frame.reserve(head_id.size() + conversation.size() + content.size() + 64);
    frame += head_id;
    frame += std::to_string(k);
    frame += conversation;
    frame += std::to_string(k);
    frame += R"(","content":")";
    frame += content;
    frame += R"("})";
    c.send_ns[k] = now;
    c.state[k].store(1);
    ++c.sent;
    if (k >= c.first_measured) ++c.sent_measured;
    g->sent.fetch_add(1);
    Enqueue(c, std::move(frame));
  }
}

asio::awaitable<void> CloseOne(Conn& c) {
  if (!c.open) co_return;
  c.open = false;
  boost::system::error_code ignored;
  if (c.writing) {  // a write in flight: no frame may interleave with it, so only the FIN
    c.sock->shutdown(tcp::socket::shutdown_send, ignored);
    co_return;
  }
  // A close frame (1000), then the write side shut: the server answers with its close and ends.
  std::string frame;
  AppendClientFrame(frame, 0x8, std::string_view("\x03\xe8", 2), c.mask_key);
  auto [ec, n] = co_await asio::async_write(*c.sock, asio::buffer(frame), kTok);
  c.sock->shutdown(tcp::socket::shutdown_send, ignored);
  (void)ec;
  (void)n;
}

// ---------------------------------------------------------------------------------------------
// Phases and the report

template <typename Worker>
bool RunWorkers(int count, Worker worker, Clock::time_point deadline, const char* what, int first = 0) {
  auto next = std::make_shared<std::atomic<int>>(first);
  std::vector<std::future<void>> done;
  for (int i = 0; i < count; ++i) {
    done.push_back(asio::co_spawn(asio::make_strand(g->ioc), worker(next), asio::use_future));
  }
  for (auto& f : done) {
    if (f.wait_until(deadline) != std::future_status::ready) Fail(2, std::string(what) + ": setup timeout");
    f.get();
  }
  std::lock_guard lock(g->mu);
  return g->first_error.empty();
}

struct Percentiles {
  size_t n = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

Percentiles Summarize(std::vector<int64_t>& v) {
  Percentiles p;
  p.n = v.size();
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
    return static_cast<double>(v[std::min(v.size() - 1, i == 0 ? 0 : i - 1)]) / 1e6;
  };
  p.p50 = at(0.50);
  p.p90 = at(0.90);
  p.p99 = at(0.99);
  p.max = static_cast<double>(v.back()) / 1e6;
  double sum = 0;
  for (int64_t x : v) sum += static_cast<double>(x);
  p.mean = sum / static_cast<double>(v.size()) / 1e6;
  return p;
}

// A JSON line written by hand: Boost.JSON prints doubles as 1.5E0.
class JsonLine {
 public:
  JsonLine& Key(std::string_view k) {
    Sep();
    s_ += '"';
    s_ += k;
    s_ += "\":";
    fresh_ = true;
    return *this;
  }
  JsonLine& Str(std::string_view v) {
    Sep();
    s_ += json::serialize(json::string(v));
    return *this;
  }
  JsonLine& Num(double v, int decimals = 3) {
    Sep();
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, std::isfinite(v) ? v : 0.0);
    s_ += buf;
    return *this;
  }
  JsonLine& Int(uint64_t v) {
    Sep();
    s_ += std::to_string(v);
    return *this;
  }
  JsonLine& Bool(bool v) {
    Sep();
    s_ += v ? "true" : "false";
    return *this;
  }
  JsonLine& Open() {
    Sep();
    s_ += '{';
    fresh_ = true;
    return *this;
  }
  JsonLine& Close() {
    s_ += '}';
    fresh_ = false;
    return *this;
  }
  JsonLine& Latency(const Percentiles& p) {
    Open();
    Key("p50").Num(p.p50).Key("p90").Num(p.p90).Key("p99").Num(p.p99).Key("max").Num(p.max);
    return Close();
  }
  std::string str() const { return s_; }

 private:
  void Sep() {
    if (!fresh_) s_ += ',';
    fresh_ = false;
  }
  std::string s_;
  bool fresh_ = true;
};

}  // namespace

int main(int argc, char** argv) {
  Run run;
  g = &run;
  run.opt = ParseOptions(argc, argv);
  const Options& opt = run.opt;
  const int n = opt.connections;

  // Open files: one per connection plus REST connections and slack.
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) std::perror("im_load: raising RLIMIT_NOFILE");
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  const rlim_t needed = static_cast<rlim_t>(n) + opt.http_connections + 64;
  if (lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < needed) {
    Fail(2, "need " + std::to_string(needed) + " open files for " + std::to_string(n) +
                " connections, but RLIMIT_NOFILE is " + std::to_string(lim.rlim_cur));
  }

  // The targets: loopback only. Several (comma-separated) share the WebSockets round robin: the
  // split deployment's gateways.
  for (size_t start = 0; start <= opt.target.size();) {
    size_t comma = std::min(opt.target.find(',', start), opt.target.size());
    std::string one = opt.target.substr(start, comma - start);
    start = comma + 1;
    size_t colon = one.rfind(':');
    if (colon == std::string::npos || colon == 0) Fail(2, "--target must be HOST:PORT[,HOST:PORT...]");
    std::string host = one.substr(0, colon), port = one.substr(colon + 1);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    tcp::resolver resolver(run.ioc);
    boost::system::error_code ec;
    auto results = resolver.resolve(host, port, ec);
    if (ec || results.empty()) Fail(2, "cannot resolve " + one + ": " + ec.message());
    tcp::endpoint endpoint = *results.begin();
    if (!endpoint.address().is_loopback()) {
      Fail(2, "--target " + one + " is not a loopback address: im_load only loads a local imd");
    }
    if (run.endpoints.empty()) {
      run.endpoint = endpoint;
      run.host = one;
    }
    run.endpoints.push_back(endpoint);
  }

  // The hard bound: whatever happens, the process ends.
  const double bound_s = opt.setup_timeout + opt.warmup + opt.duration + opt.drain + 30;
  std::thread([bound_s] {
    std::this_thread::sleep_for(std::chrono::duration<double>(bound_s));
    Fail(3, "run exceeded its time bound of " + std::to_string(static_cast<int>(bound_s)) + " s");
  }).detach();

  const bool group = opt.scenario == "group";
  run.recipients = group ? static_cast<uint32_t>(n - 1) : 1;
  run.conns.reserve(n);
  for (int i = 0; i < n; ++i) {
    auto c = std::make_unique<Conn>(run.ioc);
    c->index = i;
    c->username = opt.prefix + "-" + std::to_string(i);
    c->sender = group ? i < opt.senders : true;
    c->peer = group ? -1 : (i ^ 1);
    run.conns.push_back(std::move(c));
  }
  const int senders = group ? opt.senders : n;

  Log("im_load: %s, %d connections%s, %d senders at %.2f msg/s, warmup %.0f s, duration %.0f s, target %s, prefix %s",
      opt.scenario.c_str(), n, group ? " (one group)" : " (pairs)", senders, opt.rate, opt.warmup, opt.duration,
      opt.target.c_str(), opt.prefix.c_str());

  auto guard = asio::make_work_guard(run.ioc);
  std::vector<std::thread> threads;
  for (int i = 0; i < opt.threads; ++i) threads.emplace_back([&run] { run.ioc.run(); });
  const auto setup_deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(opt.setup_timeout));

  // 1. Users.
  int64_t t = NowNs();
  if (!RunWorkers(std::min(opt.http_connections, n), RegisterWorker, setup_deadline, "registration")) {
    Fail(2, "setup failed: " + run.first_error);
  }
  const double register_s = (NowNs() - t) / 1e9;
  Log("registered and logged in %d users in %.2f s (%.0f users/s)", n, register_s, n / register_s);
  if (!group) {
    for (auto& c : run.conns) {
      int64_t a = std::stoll(c->user_id), b = std::stoll(run.conns[c->peer]->user_id);
      c->conversation = "d:" + std::to_string(std::min(a, b)) + ":" + std::to_string(std::max(a, b));
    }
  }

  // 2. WebSockets.
  const ProcSample before_connect = SampleProcess(opt.server_pid);
  if (opt.server_pid > 0 && !before_connect.ok) Fail(2, "cannot read /proc/" + std::to_string(opt.server_pid));
  t = NowNs();
  if (!RunWorkers(std::min(opt.connect_concurrency, n), ConnectWorker, setup_deadline, "connecting")) {
    Fail(2, "setup failed: " + run.first_error);
  }
  const double connect_s = (NowNs() - t) / 1e9;
  Log("opened %d WebSockets in %.2f s (%.0f connections/s, each upgraded and answered a ping)", n, connect_s,
      n / connect_s);
  std::this_thread::sleep_for(500ms);  // let the server's allocations after the upgrades settle
  const ProcSample after_connect = SampleProcess(opt.server_pid);

  // 3. The group.
  if (group) {
    auto created = asio::co_spawn(asio::make_strand(run.ioc), CreateGroup(), asio::use_future);
    if (created.wait_until(setup_deadline) != std::future_status::ready) Fail(2, "creating the group: setup timeout");
    HttpResult r = created.get();
    run.group_id = StringMember(r.body, "id");
    if (r.status != 201 || run.group_id.empty()) Fail(2, "creating the group: " + Describe(r));
    for (auto& c : run.conns) c->conversation = "g:" + run.group_id;
    t = NowNs();
    // Member 0 owns the group; the others join.
    if (!RunWorkers(std::min(opt.http_connections, n - 1), JoinWorker, setup_deadline, "joining", 1)) {
      Fail(2, "setup failed: " + run.first_error);
    }
    Log("group %s: %d members joined in %.2f s", run.group_id.c_str(), n, (NowNs() - t) / 1e9);
  }

  // 4. Load: warmup then the measured window, each sender on its own open-loop schedule with a
  // random phase so the sends spread over the period.
  const int64_t period_ns = static_cast<int64_t>(1e9 / opt.rate);
  const int64_t t0 = NowNs() + 200'000'000;
  const int64_t measure_start = t0 + static_cast<int64_t>(opt.warmup * 1e9);
  const int64_t load_end = measure_start + static_cast<int64_t>(opt.duration * 1e9);
  std::mt19937_64 rng(12345);
  for (auto& cp : run.conns) {
    Conn& c = *cp;
    if (!c.sender) continue;
    c.period_ns = period_ns;
    c.first_ns = t0 + static_cast<int64_t>(rng() % static_cast<uint64_t>(period_ns));
    c.planned = static_cast<uint32_t>((load_end - c.first_ns + period_ns - 1) / period_ns);
    c.first_measured = measure_start <= c.first_ns
                           ? 0
                           : static_cast<uint32_t>((measure_start - c.first_ns + period_ns - 1) / period_ns);
    c.send_ns.assign(c.planned, 0);
    c.state = std::make_unique<std::atomic<uint8_t>[]>(c.planned);
    c.received = std::make_unique<std::atomic<uint32_t>[]>(c.planned);
  }
  const ProcSample load_start = SampleProcess(opt.server_pid);
  const double client_cpu_start = SelfCpuSeconds();
  for (auto& cp : run.conns) {
    if (cp->sender) asio::co_spawn(cp->strand, SendLoop(*cp), asio::detached);
  }
  Log("load: %.0f s warmup, then %.0f s measured", opt.warmup, opt.duration);
  while (NowNs() < load_end) {
    std::this_thread::sleep_until(FromNs(std::min(load_end, NowNs() + 5'000'000'000)));
    if (NowNs() < load_end) {
      Log("  sent %" PRIu64 ", settled %" PRIu64 ", deliveries %" PRIu64 "/%" PRIu64 ", closes %" PRIu64,
          run.sent.load(), run.settled.load(), run.delivered.load(), run.expected.load(), run.closes.load());
    }
  }

  // 5. Drain: wait for the last acks and deliveries, at most --drain seconds.
  const int64_t drain_end = NowNs() + static_cast<int64_t>(opt.drain * 1e9);
  while (NowNs() < drain_end) {
    if (run.settled.load() >= run.sent.load() && run.delivered.load() >= run.expected.load()) break;
    std::this_thread::sleep_for(20ms);
  }
  const double drain_s = (NowNs() - load_end) / 1e9;
  const ProcSample end_sample = SampleProcess(opt.server_pid);
  const double client_cpu_s = SelfCpuSeconds() - client_cpu_start;
  const double load_wall_s = (NowNs() - t0) / 1e9;
  run.measuring.store(false);
  Log("drained in %.2f s; closing", drain_s);

  // 6. Close politely (bounded), then stop the io threads: the per-connection data is ours.
  for (auto& cp : run.conns) asio::co_spawn(cp->strand, CloseOne(*cp), asio::detached);
  const auto close_deadline = Clock::now() + 5s;
  while (run.readers.load() > 0 && Clock::now() < close_deadline) std::this_thread::sleep_for(20ms);
  guard.reset();
  run.ioc.stop();
  for (auto& th : threads) th.join();

  // 7. Report.
  std::vector<int64_t> ack_lat, del_lat;
  std::map<std::string, uint64_t> errors, close_reasons, other_types;
  uint64_t sent = 0, sent_all = 0, acked = 0, acked_all = 0, refused = 0, deliveries = 0, deliveries_all = 0;
  uint64_t dup_deliveries = 0, dup_acks = 0, stray_acks = 0, echoes = 0, foreign = 0, not_sent = 0;
  uint64_t missing = 0, unacked = 0, extra = 0, incomplete_messages = 0, expected_deliveries = 0;
  int64_t max_lag = 0;
  for (auto& cp : run.conns) {
    Conn& c = *cp;
    ack_lat.insert(ack_lat.end(), c.ack_latency_ns.begin(), c.ack_latency_ns.end());
    del_lat.insert(del_lat.end(), c.delivery_latency_ns.begin(), c.delivery_latency_ns.end());
    for (auto& [code, count] : c.errors) errors[code] += count;
    for (auto& [type, count] : c.other_types) other_types[type] += count;
    if (!c.close_reason.empty()) ++close_reasons[c.close_reason];
    sent += c.sent_measured;
    sent_all += c.sent;
    acked += c.acked_measured;
    acked_all += c.acked;
    refused += c.refused;
    deliveries += c.delivered_measured;
    deliveries_all += c.delivered;
    dup_deliveries += c.duplicate_deliveries;
    dup_acks += c.duplicate_acks;
    stray_acks += c.stray_acks;
    echoes += c.echoes;
    foreign += c.foreign;
    not_sent += c.not_sent_closed;
    max_lag = std::max(max_lag, c.max_send_lag_ns);
    if (!c.sender) continue;
    for (uint32_t k = 0; k < c.planned; ++k) {
      uint8_t st = c.state[k].load();
      uint32_t got = c.received[k].load();
      if (st == 1) ++unacked;
      if (st != 2) continue;
      expected_deliveries += run.recipients;
      if (got < run.recipients) {
        missing += run.recipients - got;
        ++incomplete_messages;
      }
      if (got > run.recipients) extra += got - run.recipients;
    }
  }
  uint64_t errors_total = 0;
  for (auto& [code, count] : errors) errors_total += count;
  const Percentiles ap = Summarize(ack_lat), dp = Summarize(del_lat);
  const double acked_per_s = acked / opt.duration, deliveries_per_s = deliveries / opt.duration;
  const bool have_server = opt.server_pid > 0 && before_connect.ok && after_connect.ok && end_sample.ok;
  const double kb_per_conn = have_server ? double(after_connect.rss_kb - before_connect.rss_kb) / n : 0;
  const double server_cpu_s = have_server ? end_sample.cpu_s - load_start.cpu_s : 0;
  const double cpu_per_1k = have_server && acked_all > 0 ? server_cpu_s / (acked_all / 1000.0) : 0;
  const double cpu_per_1k_deliveries = have_server && deliveries_all > 0 ? server_cpu_s / (deliveries_all / 1000.0) : 0;
  const bool ok = missing == 0 && unacked == 0 && errors_total == 0 && run.closes.load() == 0 && not_sent == 0 &&
                  extra == 0 && foreign == 0;

  std::printf("im_load %s: %d connections, %d senders x %.2f msg/s, %.0f s measured (+%.0f s warmup)\n",
              opt.scenario.c_str(), n, senders, opt.rate, opt.duration, opt.warmup);
  std::printf("  setup      register+login %.0f users/s; connect %.0f connections/s (%.2f s for %d)\n", n / register_s,
              n / connect_s, connect_s, n);
  std::printf("  sent       %" PRIu64 " measured (%" PRIu64 " with warmup), acked %" PRIu64
              " (%.1f/s), refused %" PRIu64 "\n",
              sent, sent_all, acked, acked_per_s, refused);
  std::printf("  ack        p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms  (mean %.2f, n=%zu)\n", ap.p50, ap.p90, ap.p99,
              ap.max, ap.mean, ap.n);
  std::printf("  delivered  %" PRIu64 " measured (%.1f/s), %" PRIu64 " with warmup, of %" PRIu64
              " expected for acked messages\n",
              deliveries, deliveries_per_s, deliveries_all, expected_deliveries);
  std::printf("  delivery   p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms  (mean %.2f, n=%zu)\n", dp.p50, dp.p90, dp.p99,
              dp.max, dp.mean, dp.n);
  std::printf("  missing    %" PRIu64 " deliveries (%" PRIu64 " messages incomplete); unacked %" PRIu64
              "; not sent (closed) %" PRIu64 "; drain %.2f s\n",
              missing, incomplete_messages, unacked, not_sent, drain_s);
  std::printf("  oddities   duplicate deliveries %" PRIu64 ", duplicate acks %" PRIu64 ", stray acks %" PRIu64
              ", own echoes %" PRIu64 ", foreign %" PRIu64 ", extra %" PRIu64 "\n",
              dup_deliveries, dup_acks, stray_acks, echoes, foreign, extra);
  std::printf("  other      frames received during the load:");
  for (auto& [type, count] : other_types) std::printf("  %s=%" PRIu64, type.c_str(), count);
  if (other_types.empty()) std::printf(" none");
  std::printf("\n  errors     %" PRIu64, errors_total);
  for (auto& [code, count] : errors) std::printf("  %s=%" PRIu64, code.c_str(), count);
  std::printf("\n  closes     %" PRIu64, run.closes.load());
  for (auto& [reason, count] : close_reasons) std::printf("  [%s] x%" PRIu64, reason.c_str(), count);
  std::printf("\n  client     cpu %.1f%% of one core over the load (%d io threads); max send lag %.2f ms\n",
              100 * client_cpu_s / load_wall_s, opt.threads, max_lag / 1e6);
  if (have_server) {
    std::printf(
        "  server     rss %ld -> %ld kB on connect (%.1f kB/connection), %ld kB at end; cpu %.1f%% of one core"
        " over the load, %.3f cpu-s per 1000 messages, %.4f per 1000 deliveries\n",
        before_connect.rss_kb, after_connect.rss_kb, kb_per_conn, end_sample.rss_kb, 100 * server_cpu_s / load_wall_s,
        cpu_per_1k, cpu_per_1k_deliveries);
  }
  std::printf("  result     %s\n", ok ? "OK" : "FAILED");

  JsonLine j;
  j.Open();
  j.Key("scenario").Str(opt.scenario).Key("connections").Int(n).Key("senders").Int(senders);
  j.Key("rate").Num(opt.rate, 2).Key("duration").Num(opt.duration, 1).Key("warmup").Num(opt.warmup, 1);
  j.Key("sent").Int(sent).Key("acked").Int(acked).Key("refused").Int(refused);
  j.Key("ack_latency_ms").Latency(ap);
  j.Key("deliveries").Int(deliveries).Key("delivery_latency_ms").Latency(dp);
  j.Key("messages_per_s").Num(acked_per_s, 1).Key("deliveries_per_s").Num(deliveries_per_s, 1);
  j.Key("errors").Open();
  for (auto& [code, count] : errors) j.Key(code).Int(count);
  j.Close();
  j.Key("errors_total").Int(errors_total).Key("missing").Int(missing).Key("unacked").Int(unacked);
  j.Key("not_sent").Int(not_sent);
  j.Key("closes").Int(run.closes.load()).Key("duplicates").Int(dup_deliveries);
  j.Key("register_per_s").Num(n / register_s, 1).Key("connect_per_s").Num(n / connect_s, 1);
  j.Key("client_cpu_pct").Num(100 * client_cpu_s / load_wall_s, 1).Key("client_max_send_lag_ms").Num(max_lag / 1e6);
  if (have_server) {
    j.Key("kb_per_connection").Num(kb_per_conn, 2).Key("cpu_s_per_1k_messages").Num(cpu_per_1k, 4);
    j.Key("cpu_s_per_1k_deliveries").Num(cpu_per_1k_deliveries, 5);
    j.Key("server_cpu_pct").Num(100 * server_cpu_s / load_wall_s, 1);
    j.Key("server_rss_kb").Int(static_cast<uint64_t>(std::max(0L, end_sample.rss_kb)));
  }
  j.Key("ok").Bool(ok);
  j.Close();
  std::printf("%s\n", j.str().c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(ok ? 0 : 1);
}
