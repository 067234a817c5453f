#include "tests/support/bird.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "tests/support/subprocess.h"

namespace holdfast::testing {
namespace {

constexpr char kBird[] = "/usr/sbin/bird";
constexpr char kBirdc[] = "/usr/sbin/birdc";
constexpr char kIp[] = "/usr/sbin/ip";

// The whitespace-separated words of `line`.
std::vector<std::string> Words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::string Trim(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

std::string BirdRoute::Attribute(const std::string& key) const {
  const auto it = attributes.find(key);
  return it == attributes.end() ? std::string() : it->second;
}

std::vector<BirdRoute> ParseBirdRoutes(const std::string& text) {
  std::vector<BirdRoute> routes;
  std::string table;
  std::string prefix;
  bool in_route = false;  // the attribute lines that follow belong to routes.back()
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Table ", 0) == 0) {
      table = line.substr(
          6, line.find(':') == std::string::npos ? std::string::npos : line.find(':') - 6);
      in_route = false;
      continue;
    }
    if (!line.empty() && line[0] == '\t') {
      if (!in_route) continue;
      BirdRoute& r = routes.back();
      r.text += line + "\n";
      const size_t colon = line.find(": ");
      if (colon != std::string::npos)
        r.attributes[Trim(line.substr(1, colon - 1))] = line.substr(colon + 2);
      continue;
    }
    // A route line: "PREFIX  TYPE [PROTOCOL SINCE ...] * (...)", or without PREFIX (leading
    // spaces) for a further route of the same prefix.
    const size_t open = line.find(" [");
    const size_t close = open == std::string::npos ? std::string::npos : line.find(']', open);
    in_route = false;
    if (close == std::string::npos || line.empty()) continue;
    if (line[0] != ' ') {
      prefix = line.substr(0, line.find_first_of(" \t"));
    } else if (prefix.empty()) {
      continue;
    }
    const std::vector<std::string> inside = Words(line.substr(open + 2, close - open - 2));
    if (inside.empty()) continue;
    BirdRoute r;
    r.table = table;
    r.prefix = prefix;
    r.protocol = inside[0];
    if (inside.size() > 1) r.since = inside[1];
    const std::vector<std::string> after = Words(line.substr(close + 1));
    r.best = !after.empty() && after[0] == "*";
    r.text = line + "\n";
    routes.push_back(std::move(r));
    in_route = true;
  }
  return routes;
}

std::vector<BirdProtocol> ParseBirdProtocols(const std::string& text) {
  std::vector<BirdProtocol> protocols;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || std::isspace(static_cast<unsigned char>(line[0])) ||
        line.rfind("Name ", 0) == 0 || line.rfind("BIRD ", 0) == 0) {
      continue;
    }
    std::istringstream words(line);
    BirdProtocol p;
    if (!(words >> p.name >> p.proto >> p.table >> p.state >> p.since)) continue;
    std::string rest;
    std::getline(words, rest);
    p.info = Trim(rest);
    protocols.push_back(std::move(p));
  }
  return protocols;
}

BirdControl::BirdControl(std::string socket_path) : path_(std::move(socket_path)) {}

BirdControl::~BirdControl() { Reset(); }

bool BirdControl::Connect() {
  if (fd_ >= 0) return true;
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) return false;
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path_.c_str());
  timeval tv{10, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    Reset();
    return false;
  }
  buffer_.clear();
  return !ReadReply().empty();  // the greeting: "0001 BIRD 2.x ready."
}

std::string BirdControl::Command(const std::string& command) {
  if (!Connect()) return {};
  const std::string line = command + "\n";
  if (::write(fd_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    Reset();
    return {};
  }
  return ReadReply();
}

// Reply lines are "NNNN-text" (more follow), " text" (continuing the last code) or "NNNN text"
// (the last); birdc prints each without its code, and nothing for code 0000.
std::string BirdControl::ReadReply() {
  std::string reply;
  for (;;) {
    const size_t nl = buffer_.find('\n');
    if (nl == std::string::npos) {
      char chunk[16384];
      const ssize_t n = ::read(fd_, chunk, sizeof chunk);
      if (n <= 0) {
        Reset();
        return {};
      }
      buffer_.append(chunk, static_cast<size_t>(n));
      continue;
    }
    const std::string line = buffer_.substr(0, nl);
    buffer_.erase(0, nl + 1);
    if (!line.empty() && line[0] == ' ') {
      reply.append(line, 1);
      reply += '\n';
      continue;
    }
    const bool coded = line.size() >= 5 && std::isdigit(static_cast<unsigned char>(line[0])) &&
                       (line[4] == ' ' || line[4] == '-');
    if (!coded) {
      reply += line + "\n";
      continue;
    }
    if (line.compare(0, 4, "0000") != 0) {
      reply.append(line, 5);
      reply += '\n';
    }
    // An empty reply still says BIRD answered.
    if (line[4] == ' ') return reply.empty() ? "\n" : reply;
  }
}

void BirdControl::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string Birdc(const std::string& socket, const std::string& command) {
  return Run({kBirdc, "-s", socket, command}, std::filesystem::temp_directory_path(),
             std::chrono::seconds(10))
      .out;
}

Bird::Bird(const std::string& config, BirdOptions options) {
  if (options.dir.empty()) {
    temp_.emplace();
    dir_ = temp_->path();
  } else {
    dir_ = options.dir;
    std::filesystem::create_directories(dir_);
  }
  std::string text = config;
  const std::string dir = dir_.string();
  for (size_t at; (at = text.find("{dir}")) != std::string::npos;) text.replace(at, 5, dir);
  const std::filesystem::path conf = dir_ / (options.name + ".conf");
  {
    std::ofstream f(conf);
    f << text;
    f.close();
    if (!f) throw std::runtime_error("Bird: cannot write " + conf.string());
  }
  socket_ = (dir_ / (options.name + ".ctl")).string();
  std::vector<std::string> argv = {kBird, "-f",    "-c", conf.string(),
                                   "-s",  socket_, "-P", (dir_ / (options.name + ".pid")).string()};
  // `ip netns exec` execs BIRD in the namespace: the pid stays the one we started.
  if (!options.netns.empty()) argv.insert(argv.begin(), {kIp, "netns", "exec", options.netns});
  process_ = std::make_unique<Process>(argv, dir_ / (options.name + ".out"));
  BirdControl control(socket_);
  const bool up = WaitUntil(
      [&] {
        return !process_->Running() ||
               control.Command("show status").find("Daemon is up") != std::string::npos;
      },
      options.start_deadline);
  if (!up || !process_->Running()) {
    throw std::runtime_error("BIRD (" + conf.string() + ") did not start: " + process_->Output());
  }
}

Bird::~Bird() = default;

std::string Bird::Cli(const std::string& command) const { return Birdc(socket_, command); }

std::vector<BirdRoute> Bird::Routes(const std::string& selector) const {
  return ParseBirdRoutes(
      Cli(selector.empty() ? "show route all" : "show route " + selector + " all"));
}

std::string Bird::RouteText(const std::string& prefix) const {
  std::string text;
  for (const BirdRoute& r : Routes(prefix)) {
    if (r.prefix == prefix) text += r.text;
  }
  return text;
}

bool Bird::WaitPresent(const std::string& prefix, std::chrono::milliseconds deadline) const {
  return WaitUntil([&] { return !RouteText(prefix).empty(); }, deadline);
}

bool Bird::WaitAbsent(const std::string& prefix, std::chrono::milliseconds deadline) const {
  return WaitUntil([&] { return RouteText(prefix).empty(); }, deadline);
}

std::vector<BirdProtocol> Bird::Protocols() const {
  return ParseBirdProtocols(Cli("show protocols"));
}

std::string Bird::ProtocolState(const std::string& name) const {
  for (const BirdProtocol& p : ParseBirdProtocols(Cli("show protocols " + name))) {
    if (p.name != name) continue;
    if (p.proto == "BGP" && !p.info.empty()) return Words(p.info)[0];
    return p.state;
  }
  return "";
}

std::string Bird::ProtocolDetails(const std::string& name) const {
  return Cli("show protocols all " + name);
}

bool Bird::WaitProtocolState(const std::string& name, const std::vector<std::string>& states,
                             std::chrono::milliseconds deadline) const {
  return WaitUntil(
      [&] {
        const std::string state = ProtocolState(name);
        for (const std::string& s : states) {
          if (state == s) return true;
        }
        return false;
      },
      deadline);
}

}  // namespace holdfast::testing
