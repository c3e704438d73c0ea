// CountingBus: a Bus decorator that counts the records published per topic, so tests can check
// the fanout shape (one downstream record per gateway, one task per batch). On a gateway's
// downstream topic, Count counts the records that carry events and SendResults the send results
// they carry (alone, or among the items of a batch record next to the events of the same batch).
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
      int results = 0, events = 0;
      if (topic.starts_with("im-downstream-") && downstream.ParseFromString(payload)) {
        for (const auto& item : downstream.items()) (item.has_send_result() ? results : events)++;
        if (downstream.has_send_result()) results++;
        if (downstream.has_event()) events++;
      } else {
        events = 1;  // any other record
      }
      if (results > 0) send_results_[std::string(topic)] += results;
      if (events > 0) counts_[std::string(topic)]++;
    }
    return BusWrapper::Publish(topic, key, std::move(payload));
  }
  // Records published to `topic` that carry an event (or any record of another topic).
  int Count(const std::string& topic) {
    std::lock_guard lock(mu_);
    return counts_[topic];
  }
  // Send results published to `topic`, in any record.
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
