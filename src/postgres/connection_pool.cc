#include "postgres/connection_pool.h"

#include <poll.h>

#include <pqxx/except>

#include "postgres/error.h"

namespace im::postgres {

ConnectionStats& GlobalConnectionStats() {
  static ConnectionStats stats;
  return stats;
}

Session::Session(const std::string& conninfo) : connection_(std::make_unique<pqxx::connection>(conninfo)) {}

bool Session::LooksAlive() const {
  if (!connection_->is_open()) return false;
  int fd = connection_->sock();
  if (fd < 0) return false;
  pollfd p{fd, POLLIN, 0};
  int n = ::poll(&p, 1, 0);
  return n == 0;  // readable, hung up or in error: the server said goodbye
}

const std::string& Session::Prepared(const char* sql) {
  auto [it, inserted] = prepared_.try_emplace(sql);
  if (inserted) {
    it->second = "im_" + std::to_string(prepared_.size());
    try {
      connection_->prepare(it->second, sql);
    } catch (...) {
      prepared_.erase(it);
      throw;
    }
  }
  return it->second;
}

Result<std::unique_ptr<Session>> OpenSession(const std::string& conninfo) {
  try {
    auto session = std::make_unique<Session>(conninfo);
    GlobalConnectionStats().connects.fetch_add(1, std::memory_order_relaxed);
    return session;
  } catch (...) {
    return ClassifyCurrentException("postgres store: connect").status;
  }
}

ConnectionPool::ConnectionPool(std::string conninfo, int size, std::chrono::milliseconds checkout_timeout)
    : conninfo_(std::move(conninfo)), checkout_timeout_(checkout_timeout) {
  for (int i = 0; i < size; ++i) {
    slots_.push_back(std::make_unique<Session>(conninfo_));
    GlobalConnectionStats().connects.fetch_add(1, std::memory_order_relaxed);
    free_.push_back(static_cast<size_t>(i));
  }
}

Result<ConnectionPool::Lease> ConnectionPool::Acquire() {
  size_t slot;
  {
    std::unique_lock lock(mu_);
    if (!released_.wait_for(lock, checkout_timeout_, [&] { return !free_.empty(); })) {
      GlobalConnectionStats().checkout_timeouts.fetch_add(1, std::memory_order_relaxed);
      return Status::Unavailable("postgres store: no pooled connection became free within " +
                                 std::to_string(checkout_timeout_.count()) + " ms");
    }
    slot = free_.back();
    free_.pop_back();
  }
  Lease lease(this, slot);
  if (slots_[slot] == nullptr || !slots_[slot]->LooksAlive()) {
    Status s = lease.Reconnect();
    if (!s.ok()) return s;  // the lease returns the (empty) slot
  }
  return lease;
}

void ConnectionPool::Release(size_t slot) {
  {
    std::lock_guard lock(mu_);
    free_.push_back(slot);
  }
  released_.notify_one();
}

void ConnectionPool::Lease::Discard() {
  auto& session = pool_->slots_[slot_];
  if (session != nullptr) {
    session.reset();
    GlobalConnectionStats().discarded.fetch_add(1, std::memory_order_relaxed);
  }
}

Status ConnectionPool::Lease::Reconnect() {
  Discard();
  auto session = OpenSession(pool_->conninfo_);
  if (!session.ok()) return session.status();
  pool_->slots_[slot_] = std::move(session).value();
  return Status::Ok();
}

}  // namespace im::postgres
