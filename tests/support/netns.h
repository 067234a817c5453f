// A network namespace with one veth link to the test's own namespace, for what loopback cannot
// show: single-hop protocols (BFD per RFC 5881 wants a directly connected interface, and BIRD
// an interface it can name). Needs root (CAP_NET_ADMIN) and iproute2's `ip`; Available() says
// whether this machine has both. Everything it made is deleted with it, also when the test
// fails: deleting the namespace deletes the veth pair.
//
//   VethNamespace ns;  // ns.outer_v4() here, ns.inner_v4() in namespace ns.name()
//   Bird bird(config, {.netns = ns.name()});
//   speaker->Add({.local = ns.outer_v4(), .peer = ns.inner_v4()});
#ifndef HOLDFAST_TESTS_SUPPORT_NETNS_H_
#define HOLDFAST_TESTS_SUPPORT_NETNS_H_

#include <string>

namespace holdfast::testing {

class VethNamespace {
 public:
  // Whether VethNamespace can be made here: root, and `ip` installed.
  static bool Available();

  // Makes namespace "hf-PID-N" and the link between it and this namespace: outer_interface()
  // here, inner_interface() there, both up, each with an IPv4 address of one /30 in
  // 10.128.0.0/9 and an IPv6 address of one /64 in fd00:254::/32 (no duplicate address
  // detection, so usable at once), none of them used by another test process at the same time.
  // Throws std::runtime_error, with what `ip` said, when a step fails.
  VethNamespace();
  ~VethNamespace();
  VethNamespace(const VethNamespace&) = delete;
  VethNamespace& operator=(const VethNamespace&) = delete;

  const std::string& name() const { return name_; }
  const std::string& outer_interface() const { return outer_; }
  const std::string& inner_interface() const { return inner_; }
  const std::string& outer_v4() const { return outer_v4_; }
  const std::string& inner_v4() const { return inner_v4_; }
  const std::string& outer_v6() const { return outer_v6_; }
  const std::string& inner_v6() const { return inner_v6_; }

 private:
  std::string name_;
  std::string outer_;
  std::string inner_;
  std::string outer_v4_;
  std::string inner_v4_;
  std::string outer_v6_;
  std::string inner_v6_;
};

}  // namespace holdfast::testing

#endif  // HOLDFAST_TESTS_SUPPORT_NETNS_H_
