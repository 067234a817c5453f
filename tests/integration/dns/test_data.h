// What the integration tests serve: the unit tests' zones (tests/unit/dns/test_config.h) plus
// TXT RRsets sized to cross the UDP limits, and helpers for raw sockets on loopback.
#ifndef HOLDFAST_TESTS_INTEGRATION_DNS_TEST_DATA_H_
#define HOLDFAST_TESTS_INTEGRATION_DNS_TEST_DATA_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "dns/answer/engine.h"
#include "dns/wire/message.h"
#include "dns/wire/name.h"
#include "edge/config/dns_config.h"
#include "tests/unit/dns/test_config.h"

namespace holdfast::dns::testing {

// big.example.net: 30 TXT records, about 3.4 KB (more than any UDP answer we send).
// mid.example.net: 8 TXT records, about 900 octets (fits 1232, not 512).
inline v1::Config IntegrationConfig() {
  v1::Config config = TestConfig();
  v1::Zone* zone = config.mutable_dns()->mutable_zones(0);
  auto add_txt = [&](const char* name, int count) {
    for (int i = 0; i < count; ++i) {
      v1::Record* r = zone->add_records();
      r->set_name(name);
      r->set_type(v1::Record::TYPE_TXT);
      r->set_value(std::string(100, static_cast<char>('a' + i % 26)) + std::to_string(i));
    }
  };
  add_txt("big", 30);
  add_txt("mid", 8);
  return config;
}

// `all_pops_down`: no candidate serves (as a plan after a fleet-wide health failure would
// say without the governor); `max_records`: of the service name www.example.net.
inline DnsData IntegrationData(bool all_pops_down = false, uint32_t max_records = 2) {
  v1::Config config = IntegrationConfig();
  config.mutable_dns()->mutable_services(0)->set_max_records(max_records);
  DnsData data;
  data.zones = *edge::CompileZones(config.dns());
  std::shared_ptr<const ServiceState> services = *edge::ServiceStateFromConfig(config);
  if (all_pops_down) {
    std::vector<ServiceAnswers> down = services->services();
    for (ServiceAnswers& s : down) {
      for (ServiceCandidate& c : s.candidates) c.serving = false;
    }
    services = *ServiceState::Create(std::move(down));
  }
  data.services = services;
  return data;
}

// A query in wire form, built with our own encoder.
inline std::string QueryWire(uint16_t id, std::string_view name, uint16_t type, bool edns = false) {
  Message q;
  q.header.id = id;
  q.questions.push_back(Question{*NameFromText(name), type, kClassIn});
  if (edns) q.edns = Edns{};
  ByteWriter w;
  if (!EncodeMessage(q, w).ok()) throw std::runtime_error("query does not encode");
  return w.Release();
}

inline absl::StatusOr<Message> Decode(const std::string& wire) {
  return DecodeMessage({reinterpret_cast<const uint8_t*>(wire.data()), wire.size()});
}

// A file descriptor closed on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {
    if (fd_ < 0) throw std::runtime_error("socket() failed");
  }
  ~Fd() { ::close(fd_); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

inline sockaddr_in Loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

inline void SendUdp(const Fd& fd, uint16_t port, const std::string& data) {
  const sockaddr_in to = Loopback(port);
  if (::sendto(fd.get(), data.data(), data.size(), 0, reinterpret_cast<const sockaddr*>(&to),
               sizeof to) != static_cast<ssize_t>(data.size())) {
    throw std::runtime_error("sendto failed");
  }
}

// The next datagram, or nullopt when none comes within `wait`.
inline std::optional<std::string> ReceiveUdp(const Fd& fd, std::chrono::milliseconds wait) {
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return std::nullopt;
  std::string buf(65535, '\0');
  const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
  if (n < 0) return std::nullopt;
  buf.resize(static_cast<size_t>(n));
  return buf;
}

inline bool ConnectTcp(const Fd& fd, uint16_t port) {
  const sockaddr_in to = Loopback(port);
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
}

// Connects from `source` (any of 127.0.0.0/8 on Linux, so that one test can be many clients),
// port chosen by the kernel.
inline bool ConnectTcpFrom(const Fd& fd, const char* source, uint16_t port) {
  sockaddr_in from{};
  from.sin_family = AF_INET;
  if (::inet_pton(AF_INET, source, &from.sin_addr) != 1) return false;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&from), sizeof from) != 0) return false;
  return ConnectTcp(fd, port);
}

inline bool SendAll(const Fd& fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd.get(), data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

// Exactly `n` octets, or nullopt on EOF, error or `wait` passing without data.
inline std::optional<std::string> ReceiveExactly(const Fd& fd, size_t n,
                                                 std::chrono::milliseconds wait) {
  std::string out;
  while (out.size() < n) {
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return std::nullopt;
    char buf[4096];
    const ssize_t got = ::recv(fd.get(), buf, std::min(sizeof buf, n - out.size()), 0);
    if (got <= 0) return std::nullopt;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

// One DNS message over TCP with its 2-octet length.
inline std::string Framed(const std::string& message) {
  std::string out(2, '\0');
  out[0] = static_cast<char>(message.size() >> 8);
  out[1] = static_cast<char>(message.size() & 0xff);
  return out + message;
}

inline std::optional<std::string> ReceiveFramed(const Fd& fd, std::chrono::milliseconds wait) {
  std::optional<std::string> length = ReceiveExactly(fd, 2, wait);
  if (!length.has_value()) return std::nullopt;
  const size_t n =
      (size_t{static_cast<uint8_t>((*length)[0])} << 8) | static_cast<uint8_t>((*length)[1]);
  return ReceiveExactly(fd, n, wait);
}

}  // namespace holdfast::dns::testing

#endif  // HOLDFAST_TESTS_INTEGRATION_DNS_TEST_DATA_H_
