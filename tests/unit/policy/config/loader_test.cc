#include "policy/config/loader.h"

#include <catch2/catch.hpp>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace holdfast::policy {
namespace {

// Loads files from memory: path -> contents.
LoadedConfig Load(const std::map<std::string, std::string>& files,
                  std::vector<std::string> paths = {"main.yaml"}) {
  LoadOptions options;
  options.read_file = [&files](const std::string& path) -> absl::StatusOr<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return absl::NotFoundError("no such file");
    return it->second;
  };
  return LoadConfig(paths, options);
}

LoadedConfig Load(const std::string& yaml) { return Load({{"main.yaml", yaml}}); }

// "FILE:LINE:COL CODE MESSAGE" for each finding, for readable failures.
std::vector<std::string> Lines(const LoadedConfig& c) {
  std::vector<std::string> out;
  for (const Finding& f : c.findings) {
    out.push_back(absl::StrCat(f.where.file, ":", f.where.line, ":", f.where.column, " ",
                               Info(f.code).id, " ", f.message));
  }
  return out;
}

// The only finding of `c` must have this code at this place and contain `text`.
void RequireOnly(const LoadedConfig& c, Code code, int line, int column, const std::string& text,
                 const std::string& file = "main.yaml") {
  INFO(Catch::Detail::stringify(Lines(c)));
  REQUIRE(c.findings.size() == 1);
  const Finding& f = c.findings[0];
  CHECK(Info(f.code).id == Info(code).id);
  CHECK(f.where.file == file);
  CHECK(f.where.line == line);
  CHECK(f.where.column == column);
  CHECK_THAT(f.message, Catch::Contains(text));
}

TEST_CASE("the schema's defaults all parse as their fields", "[policy][config]") {
  CHECK(SchemaProblems() == std::vector<std::string>{});
}

TEST_CASE("absent keys take the defaults written in config.proto", "[policy][config]") {
  const LoadedConfig c = Load(R"(
clusters:
  - name: web
    endpoints: [{address: 127.0.0.1, port: 80}]
    health_check: {protocol: http}
)");
  INFO(Catch::Detail::stringify(Lines(c)));
  REQUIRE(c.findings.empty());
  const v1::Cluster& cl = c.config.clusters(0);
  CHECK(cl.lb_policy() == v1::Cluster::LB_POLICY_ROUND_ROBIN);
  CHECK(cl.endpoints(0).weight() == 1);
  CHECK(cl.connect_timeout().seconds() == 2);
  CHECK(cl.health_check().interval().seconds() == 5);
  CHECK(cl.health_check().path() == "/healthz");
  CHECK(cl.health_check().rise() == 2);
  CHECK(cl.outlier_detection().max_ejection_percent() == 50);
  CHECK(cl.circuit_breakers().max_pending() == 1024);
  // "{}" defaults make a whole section present with its own defaults.
  CHECK(c.config.safety().default_floor().min_pops() == 1);
  CHECK(c.config.safety().default_floor().min_fraction() == 0.5);
  CHECK(c.config.safety().withdrawal_rate().window().seconds() == 300);
  // A section without "{}" stays absent.
  CHECK_FALSE(cl.has_dns());
}

TEST_CASE("scalars convert to their field types", "[policy][config]") {
  const LoadedConfig c = Load(R"(
listeners:
  - {name: l, port: 8443, protocol: https, idle_timeout: 1.5s, max_connections: 7}
prefixes:
  - {name: p, cidr: 192.0.2.0/24, shared: true, floor: {min_fraction: 0.25, allow_zero: false}}
routes:
  - {name: r, cluster: c, timeout: 250ms, retry: {on: [connect_failure, 5xx]}}
)");
  INFO(Catch::Detail::stringify(Lines(c)));
  REQUIRE(c.findings.empty());
  const v1::Listener& l = c.config.listeners(0);
  CHECK(l.protocol() == v1::Listener::PROTOCOL_HTTPS);
  CHECK(l.idle_timeout().seconds() == 1);
  CHECK(l.idle_timeout().nanos() == 500'000'000);
  CHECK(l.max_connections() == 7);
  CHECK(c.config.prefixes(0).shared());
  CHECK(c.config.prefixes(0).floor().min_fraction() == 0.25);
  CHECK(c.config.prefixes(0).floor().has_allow_zero());
  CHECK_FALSE(c.config.prefixes(0).floor().has_min_pops());
  CHECK(c.config.routes(0).timeout().nanos() == 250'000'000);
  REQUIRE(c.config.routes(0).retry().on_size() == 2);
  CHECK(c.config.routes(0).retry().on(1) == v1::RetryPolicy::CONDITION_5XX);
}

TEST_CASE("a bad scalar is reported at its place with what was expected", "[policy][config]") {
  auto [yaml, code, column, text] = GENERATE(table<const char*, Code, int, const char*>({
      {"listeners: [{name: l, protocol: http, port: \"80\"}]", Code::kWrongType, 45,
       "expected a whole number, got the quoted string \"80\""},
      {"listeners: [{name: l, protocol: http, port: -1}]", Code::kBadValue, 45,
       "'-1' must not be negative"},
      {"listeners: [{name: l, protocol: http, port: 4294967296}]", Code::kBadValue, 45,
       "is larger than 4294967295"},
      {"listeners: [{name: l, protocol: http, port: 80x}]", Code::kBadValue, 45,
       "is not a whole number"},
      {"listeners: [{name: l, protocol: HTTP, port: 80}]", Code::kBadValue, 33,
       "'HTTP' is not one of tcp, tls, http, https, dns"},
      {"listeners: [{name: l, protocol: http, port: 80, idle_timeout: 5}]", Code::kBadValue, 63,
       "is not a duration: write a number and a unit"},
      {"listeners: [{name: l, protocol: http, port: 80, idle_timeout: -5s}]", Code::kBadValue, 63,
       "is not a duration"},
      {"prefixes: [{name: p, cidr: 192.0.2.0/24, shared: yes}]", Code::kBadValue, 50,
       "is not true or false"},
      {"prefixes: [{name: p, cidr: 192.0.2.0/24, floor: {min_fraction: .nan}}]", Code::kBadValue,
       64, "is not a number"},
      {"listeners: [{name: l, protocol: http, port: [80]}]", Code::kWrongType, 45,
       "expected a whole number, got a list"},
      {"listeners: [{name: [l], protocol: http, port: 80}]", Code::kWrongType, 20,
       "expected a string, got a list"},
  }));
  RequireOnly(Load(yaml), code, 1, column, text);
}

TEST_CASE("an unknown key is named with the key it probably meant", "[policy][config]") {
  RequireOnly(
      Load("listeners:\n  - name: l\n    port: 80\n    protocl: http\n    protocol: http\n"),
      Code::kUnknownKey, 4, 5, "listeners[0]: unknown key 'protocl'; did you mean 'protocol'?");
  RequireOnly(Load("clusterz: []\n"), Code::kUnknownKey, 1, 1,
              "unknown key 'clusterz'; did you mean 'clusters'?");
  RequireOnly(Load("frobnicate: 1\n"), Code::kUnknownKey, 1, 1,
              "expected one of: include, listeners, routes, clusters, prefixes, pops, dns, safety");
}

TEST_CASE("a list, a map and a scalar are not interchangeable", "[policy][config]") {
  RequireOnly(Load("clusters: {name: web}\n"), Code::kWrongType, 1, 11,
              "clusters: expected a list, got a map");
  RequireOnly(Load("safety: [1]\n"), Code::kWrongType, 1, 9, "safety: expected a map, got a list");
  RequireOnly(Load("pops:\n  - web\n"), Code::kWrongType, 2, 5,
              "pops[0]: expected a map, got 'web'");
}

TEST_CASE("a required key that is absent is reported at its map", "[policy][config]") {
  RequireOnly(Load("clusters:\n  - endpoints: []\n    lb_policy: maglev\n"), Code::kMissingKey, 2,
              5, "clusters[0]: missing required key 'name'");
}

TEST_CASE("a key given twice in one map is an error naming the first", "[policy][config]") {
  RequireOnly(Load("listeners:\n  - name: a\n    port: 80\n    protocol: http\n    port: 81\n"),
              Code::kDuplicateKey, 5, 5, "key 'port' given twice in one map (first at line 3)");
}

TEST_CASE("a file that is not one YAML map is one clear finding", "[policy][config]") {
  SECTION("empty") { RequireOnly(Load(""), Code::kEmptyFile, 1, 1, "empty config file"); }
  SECTION("only comments") {
    RequireOnly(Load("# nothing here\n\n"), Code::kEmptyFile, 1, 1, "empty config file");
  }
  SECTION("syntax error") {
    RequireOnly(Load("listeners: [\n  {name: a\n"), Code::kYamlSyntax, 3, 1, "YAML syntax error");
  }
  SECTION("binary") {
    RequireOnly(Load(std::string("\x7f"
                                 "ELF\x02\x01\x01\0\0\0",
                                 10)),
                Code::kNotText, 1, 1, "not a text file: byte 7");
  }
  SECTION("invalid UTF-8") {
    RequireOnly(Load("name: caf\xe9\n"), Code::kNotText, 1, 1, "byte 9 is not UTF-8");
  }
  SECTION("two documents") {
    RequireOnly(Load("listeners: []\n---\nclusters: []\n"), Code::kYamlSyntax, 3, 1,
                "holds 2 YAML documents");
  }
  SECTION("a list at the top") {
    RequireOnly(Load("- a\n- b\n"), Code::kWrongType, 1, 1, "expected a map of top-level keys");
  }
  SECTION("missing") {
    RequireOnly(Load(std::map<std::string, std::string>{}), Code::kFileUnreadable, 1, 1,
                "cannot read config: no such file");
  }
  SECTION("too large") {
    RequireOnly(Load(std::string(kMaxFileBytes + 1, '#')), Code::kTooLarge, 1, 1,
                "larger than 16777216 bytes");
  }
}

TEST_CASE("aliases cannot expand a config without bound", "[policy][config]") {
  // Each level multiplies the work by ten: 10^7 values if the loader did not stop.
  std::string yaml = "dns:\n  zones:\n";
  yaml += "    - &z {name: a.example, soa: {mname: a.example, rname: a.example}, records: [";
  yaml += "&r {name: a, type: a, value: 192.0.2.1}";
  for (int i = 0; i < 2000; ++i) yaml += ", *r";
  yaml += "]}\n";
  for (int i = 0; i < 1100; ++i) yaml += "    - *z\n";
  const LoadedConfig c = Load(yaml);
  REQUIRE_FALSE(c.findings.empty());
  CHECK(c.findings.back().code == Code::kTooLarge);
  CHECK_THAT(c.findings.back().message,
             Catch::Contains(absl::StrCat("more than ", kMaxValues, " values")));
}

TEST_CASE("an alias inside the node it names is an error, never a cycle", "[policy][config]") {
  RequireOnly(Load("pops: &p\n  - {name: a, region: r, nodes: *p}\n"), Code::kYamlSyntax, 2, 33,
              "unknown anchor 'p'");
}

TEST_CASE("aliases share a node written once", "[policy][config]") {
  const LoadedConfig c = Load(
      "clusters:\n  - &c {name: a, endpoints: [{address: 127.0.0.1, port: 80}]}\n"
      "prefixes:\n  - {name: p, cidr: 192.0.2.0/24, floor: &f {min_pops: 2}}\n"
      "  - {name: q, cidr: 198.51.100.0/24, floor: *f}\n");
  INFO(Catch::Detail::stringify(Lines(c)));
  REQUIRE(c.findings.empty());
  CHECK(c.config.prefixes(1).floor().min_pops() == 2);
}

TEST_CASE("included files add their lists in include order, each file once", "[policy][config]") {
  const LoadedConfig c = Load(
      {
          {"conf/main.yaml", "include: [a.yaml, sub/b.yaml, a.yaml]\nclusters: [{name: m}]\n"},
          {"conf/a.yaml", "clusters: [{name: a}]\ninclude: [sub/b.yaml]\n"},
          {"conf/sub/b.yaml", "clusters: [{name: b}]\ninclude: [../main.yaml, c.yaml]\n"},
          {"conf/sub/c.yaml", "clusters: [{name: c}]\n"},
      },
      {"conf/main.yaml"});
  INFO(Catch::Detail::stringify(Lines(c)));
  REQUIRE(c.findings.empty());
  std::vector<std::string> names;
  for (const auto& cl : c.config.clusters()) names.push_back(cl.name());
  CHECK(names == std::vector<std::string>{"m", "a", "b", "c"});
  CHECK(c.sources.files() == std::vector<std::string>{"conf/main.yaml", "conf/a.yaml",
                                                      "conf/sub/b.yaml", "conf/sub/c.yaml"});
  // Each value keeps the place it was written.
  const SourceLocation where = c.sources.Find("clusters[3].name");
  CHECK(where.file == "conf/sub/c.yaml");
  CHECK(where.line == 1);
  CHECK(where.column == 19);
}

TEST_CASE("an include that cannot be read is reported where it is named", "[policy][config]") {
  RequireOnly(Load({{"main.yaml", "clusters: []\ninclude:\n  - missing.yaml\n"}}),
              Code::kFileUnreadable, 3, 5, "include: cannot read 'missing.yaml': no such file");
}

TEST_CASE("an include with a NUL in its name is refused, not cut short", "[policy][config]") {
  RequireOnly(Load({{"main.yaml", "include: [\"a.yaml\\0.txt\"]\n"}, {"a.yaml", "pops: []\n"}}),
              Code::kBadValue, 1, 11, "include[0]: 'a.yaml");
}

TEST_CASE("includes nest no deeper than the limit", "[policy][config]") {
  std::map<std::string, std::string> files;
  for (int i = 0; i <= kMaxIncludeDepth + 1; ++i) {
    files[absl::StrCat("f", i, ".yaml")] = absl::StrCat("include: [f", i + 1, ".yaml]\n");
  }
  const LoadedConfig c = Load(files, {"f0.yaml"});
  RequireOnly(c, Code::kIncludeError, 1, 11, "nested deeper than 16 files",
              absl::StrCat("f", kMaxIncludeDepth, ".yaml"));
}

TEST_CASE("maps given in several files merge, a single value set twice is an error",
          "[policy][config]") {
  const LoadedConfig c = Load({
      {"main.yaml",
       "include: [dns.yaml]\ndns:\n  zones: [{name: a.example, soa: {mname: m, rname: "
       "r}}]\nsafety:\n  rollout: {bake_time: 1m}\n"},
      {"dns.yaml",
       "dns:\n  services: [{name: www.a.example, prefixes: [p]}]\nsafety:\n  "
       "rollout: {bake_time: 2m}\n"},
  });
  REQUIRE(c.config.dns().zones_size() == 1);
  REQUIRE(c.config.dns().services_size() == 1);
  RequireOnly(c, Code::kConflictingFiles, 4, 13,
              "safety.rollout.bake_time: set again in another file (first set at main.yaml:5:24)",
              "dns.yaml");
}

TEST_CASE("the source map falls back to the nearest recorded ancestor", "[policy][config]") {
  const LoadedConfig c = Load("clusters:\n  - name: web\n    endpoints: []\n");
  // connect_timeout took its default, so it was never written: its cluster's place stands in.
  const SourceLocation where = c.sources.Find("clusters[0].connect_timeout");
  CHECK(where.line == 2);
  CHECK(where.column == 5);
  CHECK(c.sources.Find("nothing.at.all").line == 1);
}

}  // namespace
}  // namespace holdfast::policy
