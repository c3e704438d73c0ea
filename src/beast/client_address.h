// Which client a request comes from, for the per-client limits: the peer address, or behind
// proxies the operator trusts, the address they forwarded (X-Forwarded-For). A header from any
// other peer is ignored: a client could write anything there.
#ifndef IM_SRC_BEAST_CLIENT_ADDRESS_H_
#define IM_SRC_BEAST_CLIENT_ADDRESS_H_

#include <array>
#include <boost/asio/ip/address.hpp>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "im/status.h"

namespace im::gateway {

// GatewayOptions::trusted_proxies, parsed: addresses ("10.0.0.7") and networks ("10.0.0.0/8",
// "fd00::/8").
class TrustedProxies {
 public:
  TrustedProxies() = default;
  // invalid_argument naming the first entry that is not an address or network.
  [[nodiscard]] static Result<TrustedProxies> Parse(const std::vector<std::string>& entries);

  bool Contains(const boost::asio::ip::address& address) const;
  bool empty() const { return networks_.empty(); }

 private:
  struct Network {
    std::array<uint8_t, 16> bytes;  // IPv4 as IPv4-mapped IPv6, so one comparison serves both
    int prefix_bits;
  };
  std::vector<Network> networks_;
};

// The client of a request from `peer` carrying `forwarded_for` (every X-Forwarded-For header,
// joined with ','): `peer` unless it is a trusted proxy; then the rightmost address in the header
// that is not a trusted proxy (each proxy appends the address it got the request from, so
// everything left of the first untrusted one may be forged). A malformed entry ends the walk at
// the last address known good.
boost::asio::ip::address ClientAddress(const boost::asio::ip::address& peer, std::string_view forwarded_for,
                                       const TrustedProxies& trusted);

// The key the per-client limits count under: an IPv4 address as is (also when IPv4-mapped), an
// IPv6 address by its /64, which one subscriber gets whole and can rotate through for free.
std::string ClientKey(const boost::asio::ip::address& address);

}  // namespace im::gateway

#endif  // IM_SRC_BEAST_CLIENT_ADDRESS_H_
