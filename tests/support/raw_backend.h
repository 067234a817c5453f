// A backend that misbehaves on purpose, for the edge's tests: it listens on a loopback port of
// its own (bound at construction and kept, so no other test can take it), hands every accepted
// connection to a script on a thread of its own, and keeps the exact bytes each connection
// received. The script reads requests and writes whatever the test needs: extra bytes after a
// response, a close after reading a request, a response with a broken framing.
//
// Thread-safe: the script runs on the backend's threads, the test reads received() from its
// own. The destructor closes the listener and every connection and joins the threads, so a
// failing test leaves nothing behind.
#ifndef HOLDFAST_TESTS_SUPPORT_RAW_BACKEND_H_
#define HOLDFAST_TESTS_SUPPORT_RAW_BACKEND_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace holdfast::testing {

class RawBackend {
 public:
  // One accepted connection, as the script sees it.
  class Connection {
   public:
    // The next request head (through its empty line), and a Content-Length body if it has
    // one; nullopt when the peer closed or 5 s passed first.
    std::optional<std::string> ReadRequest();
    // Everything up to and including `delimiter`; nullopt on close or after 5 s.
    std::optional<std::string> ReadUntil(std::string_view delimiter);
    // Writes all of `bytes`; false when the peer is gone.
    bool Write(std::string_view bytes);
    // Closes the connection at once (FIN).
    void Close();
    // Which connection this is, counted from 0 in the order they were accepted.
    int index() const { return index_; }

   private:
    friend class RawBackend;
    Connection(RawBackend& backend, int fd, int index)
        : backend_(backend), fd_(fd), index_(index) {}
    // Reads what is there into pending_; false on close, error or `deadline`.
    bool Fill(std::chrono::steady_clock::time_point deadline);

    RawBackend& backend_;
    int fd_;
    int index_;
    std::string pending_;  // read, not yet returned
  };

  using Script = std::function<void(Connection&)>;

  explicit RawBackend(Script script);
  ~RawBackend();
  RawBackend(const RawBackend&) = delete;
  RawBackend& operator=(const RawBackend&) = delete;

  uint16_t port() const { return port_; }
  // Every byte received so far, over every connection, in the order they arrived.
  std::string received() const;
  // Connections accepted so far.
  int connections() const { return accepted_.load(); }

 private:
  void AcceptLoop();

  Script script_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  mutable std::mutex mu_;
  std::string received_;
  std::vector<int> fds_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_SUPPORT_RAW_BACKEND_H_
