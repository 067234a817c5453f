#include "policy/diff.h"

#include <google/protobuf/util/message_differencer.h>

#include <map>

namespace holdfast::policy {
namespace {

using google::protobuf::util::MessageDifferencer;

// Compares two lists of named messages (each with a string `name` field). `ordered`: the order
// of the list means something, so a new order is a change.
template <typename List>
void DiffNamed(const char* kind, const List& from, const List& to, bool ordered,
               std::vector<std::string>& out) {
  std::map<std::string, const typename List::value_type*> old_by_name;
  std::vector<std::string> old_order;
  for (const auto& m : from) {
    old_by_name[m.name()] = &m;
    old_order.push_back(m.name());
  }
  std::vector<std::string> new_order;
  std::map<std::string, bool> in_new;
  for (const auto& m : to) {
    in_new[m.name()] = true;
    const auto it = old_by_name.find(m.name());
    if (it == old_by_name.end()) {
      out.push_back(std::string("+ ") + kind + " " + m.name());
      continue;
    }
    new_order.push_back(m.name());
    if (!MessageDifferencer::Equals(*it->second, m)) {
      out.push_back(std::string("~ ") + kind + " " + m.name());
    }
  }
  std::vector<std::string> kept_old_order;
  for (const std::string& name : old_order) {
    if (in_new.count(name) == 0) {
      out.push_back(std::string("- ") + kind + " " + name);
    } else {
      kept_old_order.push_back(name);
    }
  }
  if (ordered && kept_old_order != new_order) out.push_back(std::string("~ ") + kind + "s: order");
}

template <typename M>
void DiffSingle(const char* what, const M& from, const M& to, std::vector<std::string>& out) {
  if (!MessageDifferencer::Equals(from, to)) out.push_back(std::string("~ ") + what);
}

}  // namespace

std::vector<std::string> DiffConfigs(const v1::Config& from, const v1::Config& to) {
  std::vector<std::string> out;
  DiffNamed("listener", from.listeners(), to.listeners(), false, out);
  DiffNamed("route", from.routes(), to.routes(), true, out);
  DiffNamed("cluster", from.clusters(), to.clusters(), false, out);
  DiffNamed("prefix", from.prefixes(), to.prefixes(), false, out);
  DiffNamed("pop", from.pops(), to.pops(), false, out);
  DiffNamed("zone", from.dns().zones(), to.dns().zones(), false, out);
  DiffNamed("service name", from.dns().services(), to.dns().services(), false, out);
  DiffSingle("safety", from.safety(), to.safety(), out);
  return out;
}

}  // namespace holdfast::policy
