#include "line_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sstream>
#include <vector>

struct LineServer::Connection {
  int fd = -1;
  std::string in;
  std::mutex mu;  // guards out and closed: sinks write from engine threads
  std::string out;
  bool closed = false;
  im::UserId user;  // set by LOGIN
  im::DeviceId device;
  im::SessionId session = 0;

  void Write(const std::string& line) {
    std::lock_guard lock(mu);
    if (!closed) out += line + "\n";
  }
};

namespace {

// Delivers engine events as text lines. Deliver only appends to a buffer and wakes the loop: it
// never blocks the engine.
class LineSink : public im::SessionSink {
 public:
  LineSink(std::weak_ptr<LineServer::Connection> c, std::function<void()> wake)
      : connection_(std::move(c)), wake_(std::move(wake)) {}

  void Deliver(const std::shared_ptr<const im::Event>& event) override {
    auto c = connection_.lock();
    if (!c) return;
    std::ostringstream line;
    if (auto* m = std::get_if<im::NewMessageEvent>(event.get())) {
      line << "MSG " << m->message.conversation.str() << " " << m->message.seq << " " << m->message.sender.value << " "
           << m->message.content;
    } else if (auto* r = std::get_if<im::ReadReceiptEvent>(event.get())) {
      line << "RECEIPT " << r->conversation.str() << " " << r->reader.value << " " << r->read_seq;
    } else if (auto* p = std::get_if<im::PresenceEvent>(event.get())) {
      line << "PRESENCE " << p->user.value << (p->online ? " on" : " off");
    } else if (auto* t = std::get_if<im::TypingEvent>(event.get())) {
      line << "TYPING " << t->conversation.str() << " " << t->user.value;
    }
    c->Write(line.str());
    wake_();
  }

 private:
  std::weak_ptr<LineServer::Connection> connection_;
  std::function<void()> wake_;
};

std::string Err(const im::Status& s) { return "ERR " + std::string(im::StatusCodeName(s.code())) + " " + s.message(); }

// "42" (a user id: the 1:1 with that user) or a conversation id ("d:1:2", "g:7").
std::optional<im::ConversationId> ParseTarget(const std::string& text, im::UserId me) {
  if (auto c = im::ConversationId::Parse(text)) return c;
  try {
    long long peer = std::stoll(text);
    if (peer > 0 && peer != me.value) return im::ConversationId::Direct(me, im::UserId(peer));
  } catch (...) {
  }
  return std::nullopt;
}

}  // namespace

LineServer::~LineServer() {
  {
    std::lock_guard lock(jobs_mu_);
    stopping_ = true;
  }
  jobs_cv_.notify_all();
  if (worker_.joinable()) worker_.join();
  for (auto& [fd, c] : connections_) {
    if (c->session) engine_.Detach(c->session);
    ::close(fd);
  }
  for (int fd : {listen_fd_, wake_pipe_[0], wake_pipe_[1]}) {
    if (fd >= 0) ::close(fd);
  }
}

int LineServer::Listen(int port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0) {
    return -1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  if (::pipe2(wake_pipe_, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
  worker_ = std::thread([this] { WorkerLoop(); });
  return ntohs(addr.sin_port);
}

void LineServer::Wake() { (void)!::write(wake_pipe_[1], "x", 1); }

void LineServer::Post(std::function<void()> job) {
  {
    std::lock_guard lock(jobs_mu_);
    jobs_.push_back(std::move(job));
  }
  jobs_cv_.notify_one();
}

void LineServer::WorkerLoop() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(jobs_mu_);
      jobs_cv_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
    Wake();
  }
}

void LineServer::Run() {
  for (;;) {
    std::vector<pollfd> fds{{STDIN_FILENO, POLLIN, 0}, {listen_fd_, POLLIN, 0}, {wake_pipe_[0], POLLIN, 0}};
    for (auto& [fd, c] : connections_) {
      std::lock_guard lock(c->mu);
      fds.push_back({fd, static_cast<short>(POLLIN | (c->out.empty() ? 0 : POLLOUT)), 0});
    }
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents & (POLLIN | POLLHUP)) {
      char buf[256];
      if (::read(STDIN_FILENO, buf, sizeof buf) <= 0) return;  // the parent went away: stop
    }
    if (fds[1].revents & POLLIN) Accept();
    if (fds[2].revents & POLLIN) {
      char buf[256];
      while (::read(wake_pipe_[0], buf, sizeof buf) > 0) {
      }
    }
    for (size_t i = 3; i < fds.size(); ++i) {
      auto it = connections_.find(fds[i].fd);
      if (it == connections_.end()) continue;
      auto c = it->second;
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) ReadFrom(c);
      if (fds[i].revents & POLLOUT) {
        std::lock_guard lock(c->mu);
        ssize_t n = ::send(c->fd, c->out.data(), c->out.size(), MSG_NOSIGNAL);
        if (n > 0) c->out.erase(0, static_cast<size_t>(n));
      }
    }
  }
}

void LineServer::Accept() {
  int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  auto c = std::make_shared<Connection>();
  c->fd = fd;
  connections_[fd] = c;
}

void LineServer::ReadFrom(const std::shared_ptr<Connection>& c) {
  char buf[4096];
  ssize_t n = ::recv(c->fd, buf, sizeof buf, 0);
  if (n <= 0) return Close(c);
  c->in.append(buf, static_cast<size_t>(n));
  if (c->in.size() > 70 * 1024) return Close(c);  // a line longer than any valid command
  size_t nl;
  while ((nl = c->in.find('\n')) != std::string::npos) {
    std::string line = c->in.substr(0, nl);
    c->in.erase(0, nl + 1);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    Post([this, c, line] { Handle(c, line); });
  }
}

void LineServer::Close(const std::shared_ptr<Connection>& c) {
  {
    std::lock_guard lock(c->mu);
    c->closed = true;
  }
  connections_.erase(c->fd);
  ::close(c->fd);
  Post([this, c] {
    if (c->session) engine_.Detach(c->session);
  });
}

// Runs on the worker thread.
void LineServer::Handle(const std::shared_ptr<Connection>& c, const std::string& line) {
  std::istringstream in(line);
  std::string cmd;
  in >> cmd;
  const bool logged_in = c->user.valid();
  if (cmd == "REGISTER") {
    std::string name, password;
    in >> name >> password;
    auto u = engine_.Register(name, password, "");
    c->Write(u.ok() ? "OK registered " + std::to_string(u->id.value) : Err(u.status()));
  } else if (cmd == "LOGIN") {
    std::string name, password, device;
    in >> name >> password >> device;
    if (logged_in) return c->Write("ERR failed_precondition already logged in");
    auto tokens = engine_.Login(name, password, device);
    if (!tokens.ok()) return c->Write(Err(tokens.status()));
    c->user = tokens->user;
    c->device = device;
    auto session = engine_.Attach(c->user, device, std::make_shared<LineSink>(c, [this] { Wake(); }));
    if (!session.ok()) return c->Write(Err(session.status()));
    c->session = *session;
    c->Write("OK logged-in " + std::to_string(c->user.value));
  } else if (!logged_in) {
    c->Write("ERR unauthenticated log in first");
  } else if (cmd == "SEND") {
    std::string target, text;
    in >> target;
    std::getline(in >> std::ws, text);
    auto conv = ParseTarget(target, c->user);
    if (!conv) return c->Write("ERR invalid_argument bad target " + target);
    static std::atomic<long> counter{0};
    im::SendRequest req{*conv, "line-" + std::to_string(counter++), im::ContentType::kText, text};
    // The async API: the ack line is written when the message is durable.
    engine_.SendAsync(c->user, c->device, req, [this, c, conv = *conv](im::Result<im::SendAck> ack) {
      c->Write(ack.ok() ? "ACK " + std::to_string(ack->seq) + " " + std::to_string(ack->id.value) + " " + conv.str()
                        : Err(ack.status()));
      Wake();
    });
  } else if (cmd == "GROUP") {
    std::string name;
    std::getline(in >> std::ws, name);
    // Open: this protocol's JOIN is by id (new groups are invite-only by default).
    auto g =
        engine_.CreateGroup(c->user, name, 0, im::GroupSettings{im::JoinPolicy::kOpen, im::HistoryVisibility::kFull});
    c->Write(g.ok() ? "OK group " + std::to_string(g->id.value) : Err(g.status()));
  } else if (cmd == "JOIN") {
    long long id = 0;
    in >> id;
    auto s = engine_.JoinGroup(c->user, im::GroupId(id));
    c->Write(s.ok() ? "OK joined" : Err(s));
  } else if (cmd == "HISTORY") {
    std::string target;
    uint32_t limit = 20;
    in >> target >> limit;
    auto conv = ParseTarget(target, c->user);
    if (!conv) return c->Write("ERR invalid_argument bad target " + target);
    auto page = engine_.GetHistory(c->user, *conv, im::HistoryQuery{0, 0, limit});
    if (!page.ok()) return c->Write(Err(page.status()));
    for (auto& m : page->messages) {
      c->Write("HIST " + std::to_string(m.seq) + " " + std::to_string(m.sender.value) + " " + m.content);
    }
    c->Write("OK history");
  } else if (cmd == "READ") {
    std::string target;
    im::Seq seq = 0;
    in >> target >> seq;
    auto conv = ParseTarget(target, c->user);
    if (!conv) return c->Write("ERR invalid_argument bad target " + target);
    auto r = engine_.MarkRead(c->user, c->device, *conv, seq);
    c->Write(r.ok() ? "OK read " + std::to_string(*r) : Err(r.status()));
  } else {
    c->Write("ERR invalid_argument unknown command " + cmd);
  }
}
