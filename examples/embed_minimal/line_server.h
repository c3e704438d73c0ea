// LineServer: a host's own transport — TCP, one text line per command, a poll() loop. libim sees
// it only through Engine calls and one SessionSink per logged-in connection.
#ifndef IM_EXAMPLES_EMBED_MINIMAL_LINE_SERVER_H_
#define IM_EXAMPLES_EMBED_MINIMAL_LINE_SERVER_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "im/engine.h"

class LineServer {
 public:
  explicit LineServer(im::Engine& engine) : engine_(engine) {}
  ~LineServer();
  // Binds 127.0.0.1:port (0: any free port) and returns the bound port, or -1.
  int Listen(int port);
  // Serves until Stop() is called or stdin closes.
  void Run();

  struct Connection;

 private:
  void Accept();
  void ReadFrom(const std::shared_ptr<Connection>& c);
  void Handle(const std::shared_ptr<Connection>& c, const std::string& line);
  void Close(const std::shared_ptr<Connection>& c);
  void Wake();
  void WorkerLoop();
  void Post(std::function<void()> job);

  im::Engine& engine_;
  int listen_fd_ = -1;
  int wake_pipe_[2] = {-1, -1};
  std::map<int, std::shared_ptr<Connection>> connections_;

  // The host's worker: engine calls that may block run here, in order, never on the poll loop.
  std::mutex jobs_mu_;
  std::condition_variable jobs_cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::thread worker_;
};

#endif  // IM_EXAMPLES_EMBED_MINIMAL_LINE_SERVER_H_
