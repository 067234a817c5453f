#include "policy/diff.h"

#include <catch2/catch.hpp>

namespace holdfast::policy {
namespace {

v1::Config WithRoutes(std::initializer_list<std::pair<const char*, const char*>> routes) {
  v1::Config c;
  for (const auto& [name, cluster] : routes) {
    v1::Route* r = c.add_routes();
    r->set_name(name);
    r->set_cluster(cluster);
  }
  return c;
}

TEST_CASE("the diff names what is added, removed and changed", "[policy][diff]") {
  const v1::Config from = WithRoutes({{"web", "web"}, {"api", "api"}});
  const v1::Config to = WithRoutes({{"web", "web-canary"}, {"img", "img"}});
  CHECK(DiffConfigs(from, to) ==
        std::vector<std::string>{"~ route web", "+ route img", "- route api"});
  CHECK(DiffConfigs(from, from).empty());
}

TEST_CASE("routes in a new order are a change, clusters in a new order are not", "[policy][diff]") {
  CHECK(DiffConfigs(WithRoutes({{"a", "x"}, {"b", "x"}}), WithRoutes({{"b", "x"}, {"a", "x"}})) ==
        std::vector<std::string>{"~ routes: order"});
  v1::Config from;
  from.add_clusters()->set_name("a");
  from.add_clusters()->set_name("b");
  v1::Config to;
  to.add_clusters()->set_name("b");
  to.add_clusters()->set_name("a");
  CHECK(DiffConfigs(from, to).empty());
}

TEST_CASE("safety and DNS names are compared too", "[policy][diff]") {
  v1::Config from;
  v1::Config to;
  to.mutable_safety()->mutable_default_floor()->set_min_pops(2);
  to.mutable_dns()->add_services()->set_name("www.example.net.");
  CHECK(DiffConfigs(from, to) ==
        std::vector<std::string>{"+ service name www.example.net.", "~ safety"});
}

}  // namespace
}  // namespace holdfast::policy
