// im-kafka-mock: librdkafka's mock cluster as a program. It serves the Kafka protocol on
// 127.0.0.1 (producers, consumer groups, commits, the idempotent producer), for tests and local
// split deployments; it keeps everything in memory.
//
//   im-kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]... [--ignore-stdin]
//
// Prints the bootstrap servers ("127.0.0.1:port,…") as one line on stdout once the cluster
// listens, then runs until stdin reaches end-of-file (unless --ignore-stdin) or it gets SIGTERM
// or SIGINT. Topics given with --topic exist from the start (default 8 partitions); others are
// created on a client's first metadata request, with 4 partitions.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

int Usage(const char* why) {
  std::fprintf(stderr,
               "im-kafka-mock: %s\nusage: im-kafka-mock [--brokers N] [--topic NAME[:PARTITIONS]]... "
               "[--ignore-stdin]\n",
               why);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  int brokers = 3;
  bool watch_stdin = true;
  std::vector<std::pair<std::string, int>> topics;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--brokers" && i + 1 < argc) {
      brokers = std::atoi(argv[++i]);
      if (brokers < 1 || brokers > 16) return Usage("--brokers takes 1 to 16");
    } else if (arg == "--topic" && i + 1 < argc) {
      std::string spec = argv[++i];
      int partitions = 8;
      if (auto colon = spec.find(':'); colon != std::string::npos) {
        partitions = std::atoi(spec.c_str() + colon + 1);
        spec.resize(colon);
      }
      if (spec.empty() || partitions < 1) return Usage("--topic takes NAME or NAME:PARTITIONS");
      topics.emplace_back(spec, partitions);
    } else if (arg == "--ignore-stdin") {
      watch_stdin = false;
    } else {
      return Usage(("unknown argument " + arg).c_str());
    }
  }

  // Every thread, librdkafka's included, inherits this mask: the signals reach sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "log_level", "4", err, sizeof err);  // not the notice about no bootstrap.servers
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (!rk) {
    std::fprintf(stderr, "im-kafka-mock: %s\n", err);
    return 1;
  }
  rd_kafka_mock_cluster_t* cluster = rd_kafka_mock_cluster_new(rk, brokers);
  if (!cluster) {
    std::fprintf(stderr, "im-kafka-mock: cannot start the mock cluster\n");
    return 1;
  }
  for (const auto& [name, partitions] : topics) {
    if (rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(cluster, name.c_str(), partitions, std::min(brokers, 3))) {
      std::fprintf(stderr, "im-kafka-mock: topic %s: %s\n", name.c_str(), rd_kafka_err2str(e));
      return 1;
    }
  }
  std::printf("%s\n", rd_kafka_mock_cluster_bootstraps(cluster));
  std::fflush(stdout);

  if (watch_stdin) {
    std::thread([] {
      char buf[256];
      while (read(STDIN_FILENO, buf, sizeof buf) > 0) {
      }
      kill(getpid(), SIGTERM);
    }).detach();
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);

  rd_kafka_mock_cluster_destroy(cluster);
  rd_kafka_destroy(rk);
  return 0;
}
