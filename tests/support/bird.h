// BIRD 2 as a test's peer: one `bird` process on a config the test writes, asked through its
// control socket (birdc, or a BirdControl connection for tight polling), its routes and protocol
// states parsed from what `show route ... all` and `show protocols` print. Killed (SIGKILL) when
// the object goes, also when the test fails; a test that gives BIRD a peer to shut down declares
// BIRD first, so it outlives that peer.
//
//   Bird bird("router id 10.255.0.1;\n"
//             "log \"{dir}/bird.log\" all;\n"
//             "protocol bgp holdfast { local 127.0.0.2 port " + std::to_string(port) + " ... }\n");
//   bird.WaitProtocolState("holdfast", {"Active", "Connect"});
//   for (const BirdRoute& r : bird.Routes("198.51.100.0/24")) r.Attribute("BGP.as_path");
#ifndef HOLDFAST_TESTS_SUPPORT_BIRD_H_
#define HOLDFAST_TESTS_SUPPORT_BIRD_H_

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace holdfast::testing {

// One route as `show route [...] all` prints it:
//   198.51.100.0/24      unicast [holdfast 17:12:06.785 from 127.0.0.1] * (100/-) [AS64512i]
//   	BGP.as_path: 64512 64512 64512
// A further route for the same prefix starts with spaces instead of the prefix.
struct BirdRoute {
  std::string table;     // "master4", from the "Table master4:" line before it
  std::string prefix;    // "198.51.100.0/24"
  std::string protocol;  // the protocol that brought it: "holdfast", "e1", "static1"
  std::string since;     // when it entered the table, in BIRD's `timeformat route`
  bool best = false;     // marked "*": the route BIRD chose for its prefix
  // Its "\tKEY: VALUE" lines: "BGP.as_path" -> "64512 64512 64512", "Type" -> "BGP univ".
  std::map<std::string, std::string> attributes;
  std::string text;  // its lines as printed, each ending in "\n"

  // The value of attribute `key`, "" when it has none.
  std::string Attribute(const std::string& key) const;
};

// The routes in birdc's (or BirdControl's) output of `show route`; other lines are skipped.
std::vector<BirdRoute> ParseBirdRoutes(const std::string& text);

// One line of `show protocols`:
//   holdfast   BGP        ---        up     17:12:06.785  Established
struct BirdProtocol {
  std::string name;
  std::string proto;  // "BGP", "Static", "Device"
  std::string table;
  std::string state;  // "up", "start", "down"
  std::string since;
  std::string info;  // BGP: the session state, then any last error ("Active  Socket: ...")
};

// The protocols in birdc's output of `show protocols [all]`; other lines are skipped.
std::vector<BirdProtocol> ParseBirdProtocols(const std::string& text);

// A connection to BIRD's control socket speaking birdc's protocol, for polling in a loop without
// starting a birdc process each time. Not thread-safe.
class BirdControl {
 public:
  explicit BirdControl(std::string socket_path);
  ~BirdControl();
  BirdControl(const BirdControl&) = delete;
  BirdControl& operator=(const BirdControl&) = delete;

  // Connects (once; again after a failure) and reads BIRD's greeting. False when BIRD does not
  // answer.
  bool Connect();
  // The reply to `command` as birdc prints it (reply codes removed); empty when the socket
  // failed (the next call connects again).
  std::string Command(const std::string& command);

 private:
  std::string ReadReply();
  void Reset();

  std::string path_;
  int fd_ = -1;
  std::string buffer_;
};

// birdc -s SOCKET COMMAND: its output (also when birdc fails, e.g. "Network not found"). For a
// BIRD the test did not start (the lab's).
std::string Birdc(const std::string& socket, const std::string& command);

struct BirdOptions {
  // The files' names: NAME.conf, NAME.ctl (the control socket), NAME.pid, NAME.out (its stdout
  // and stderr).
  std::string name = "bird";
  // Where they go; empty: a temporary directory of its own, removed with everything in it.
  std::filesystem::path dir = {};
  // The network namespace BIRD runs in (tests/support/netns.h), "" for the test's own. Its
  // control socket is a file: reached from the test's namespace all the same.
  std::string netns = {};
  // How long BIRD may take to read its config and answer on its control socket.
  std::chrono::milliseconds start_deadline = std::chrono::seconds(10);
};

class Bird {
 public:
  // Writes `config` (with "{dir}" replaced by the directory, for the log file) and starts
  // `bird -f -c NAME.conf -s NAME.ctl -P NAME.pid`; returns once its control socket answers
  // `show status`. Throws std::runtime_error, with BIRD's output, when it exits or does not
  // answer in time.
  explicit Bird(const std::string& config, BirdOptions options = {});
  ~Bird();
  Bird(const Bird&) = delete;
  Bird& operator=(const Bird&) = delete;

  pid_t pid() const { return process_->pid(); }
  const std::filesystem::path& dir() const { return dir_; }
  const std::string& socket() const { return socket_; }
  // What BIRD wrote to stdout and stderr (config errors; the log file is the config's).
  std::string Output() const { return process_->Output(); }

  // birdc -s SOCKET COMMAND (one string, e.g. "restart holdfast"): its output.
  std::string Cli(const std::string& command) const;

  // The routes of `show route SELECTOR all`: a prefix ("198.51.100.0/24"), "table master6",
  // "protocol e1", "" for all of them.
  std::vector<BirdRoute> Routes(const std::string& selector = "") const;
  // The routes for `prefix`, their lines as printed; "" when BIRD has none.
  std::string RouteText(const std::string& prefix) const;
  // Until BIRD has a route for `prefix` (WaitPresent) or none (WaitAbsent), within `deadline`.
  bool WaitPresent(const std::string& prefix,
                   std::chrono::milliseconds deadline = std::chrono::seconds(15)) const;
  bool WaitAbsent(const std::string& prefix,
                  std::chrono::milliseconds deadline = std::chrono::seconds(15)) const;

  std::vector<BirdProtocol> Protocols() const;
  // The state of protocol `name` in one word: for BGP the session state that starts the Info
  // column ("Idle", "Connect", "Active", "OpenSent", "Established"), else the State column ("up",
  // "down"); "" when BIRD has no such protocol.
  std::string ProtocolState(const std::string& name) const;
  // `show protocols all NAME`: the details (last error, graceful restart, route counts).
  std::string ProtocolDetails(const std::string& name) const;
  // Until ProtocolState(name) is one of `states`, within `deadline`. A BGP protocol is Active or
  // Connect once BIRD has started it: from then on it accepts the peer's connection.
  bool WaitProtocolState(const std::string& name, const std::vector<std::string>& states,
                         std::chrono::milliseconds deadline = std::chrono::seconds(10)) const;

 private:
  std::optional<TempDir> temp_;
  std::filesystem::path dir_;
  std::string socket_;
  std::unique_ptr<Process> process_;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_SUPPORT_BIRD_H_
