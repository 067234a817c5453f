#include "tests/support/raw_backend.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <stdexcept>

namespace holdfast::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::seconds kReadTimeout{5};

}  // namespace

RawBackend::RawBackend(Script script) : script_(std::move(script)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  socklen_t len = sizeof sa;
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    throw std::runtime_error("raw backend: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(sa.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
}

RawBackend::~RawBackend() {
  stopping_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  {
    // Wakes every script blocked in a read: the reads see the end of the stream.
    std::lock_guard<std::mutex> lock(mu_);
    for (const int fd : fds_) ::shutdown(fd, SHUT_RDWR);
  }
  for (std::thread& t : threads_) t.join();
  for (const int fd : fds_) ::close(fd);
}

std::string RawBackend::received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

void RawBackend::AcceptLoop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int index = accepted_++;
    std::lock_guard<std::mutex> lock(mu_);
    fds_.push_back(fd);
    threads_.emplace_back([this, fd, index] {
      Connection c(*this, fd, index);
      script_(c);
    });
  }
}

bool RawBackend::Connection::Fill(std::chrono::steady_clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  pollfd p{fd_, POLLIN, 0};
  if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
  char buf[4096];
  const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n <= 0) return false;
  pending_.append(buf, static_cast<size_t>(n));
  std::lock_guard<std::mutex> lock(backend_.mu_);
  backend_.received_.append(buf, static_cast<size_t>(n));
  return true;
}

std::optional<std::string> RawBackend::Connection::ReadUntil(std::string_view delimiter) {
  const Clock::time_point deadline = Clock::now() + kReadTimeout;
  size_t at;
  while ((at = pending_.find(delimiter)) == std::string::npos) {
    if (!Fill(deadline)) return std::nullopt;
  }
  std::string out = pending_.substr(0, at + delimiter.size());
  pending_.erase(0, at + delimiter.size());
  return out;
}

std::optional<std::string> RawBackend::Connection::ReadRequest() {
  std::optional<std::string> head = ReadUntil("\r\n\r\n");
  if (!head.has_value()) return head;
  // A Content-Length body, when the head has one (the scripts' requests are simple).
  size_t length = 0;
  for (const std::string_view name : {"\r\nContent-Length:", "\r\ncontent-length:"}) {
    if (const size_t at = head->find(name); at != std::string::npos) {
      length = std::strtoul(head->c_str() + at + name.size(), nullptr, 10);
    }
  }
  const Clock::time_point deadline = Clock::now() + kReadTimeout;
  while (pending_.size() < length) {
    if (!Fill(deadline)) return std::nullopt;
  }
  *head += pending_.substr(0, length);
  pending_.erase(0, length);
  return head;
}

bool RawBackend::Connection::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void RawBackend::Connection::Close() { ::shutdown(fd_, SHUT_RDWR); }

}  // namespace holdfast::testing
