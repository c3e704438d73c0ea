// CountingBus: a Bus decorator that counts the records published per topic, so tests can check
// the fanout shape (one downstream record per gateway, one task per batch). Send results (the
// acks on a gateway's downstream topic) are counted apart from event records.
#ifndef IM_TESTS_SUPPORT_COUNTING_BUS_H_
#define IM_TESTS_SUPPORT_COUNTING_BUS_H_

#include <map>
#include <mutex>
#include <string>

#include "im/bus.h"
#include "im/v1/records.pb.h"

namespace im::test {

class CountingBus : public BusWrapper {
 public:
  using BusWrapper::BusWrapper;
  Status Publish(std::string_view topic, std::string_view key, std::string payload) override {
    {
      std::lock_guard lock(mu_);
      v1::DownstreamMessage downstream;
      bool result =
          topic.starts_with("im-downstream-") && downstream.ParseFromString(payload) && downstream.has_send_result();
      (result ? send_results_ : counts_)[std::string(topic)]++;
    }
    return BusWrapper::Publish(topic, key, std::move(payload));
  }
  // Records published to `topic`, send results not included.
  int Count(const std::string& topic) {
    std::lock_guard lock(mu_);
    return counts_[topic];
  }
  int SendResults(const std::string& topic) {
    std::lock_guard lock(mu_);
    return send_results_[topic];
  }
  void Reset() {
    std::lock_guard lock(mu_);
    counts_.clear();
    send_results_.clear();
  }

 private:
  std::mutex mu_;
  std::map<std::string, int> counts_, send_results_;
};

}  // namespace im::test

#endif  // IM_TESTS_SUPPORT_COUNTING_BUS_H_
