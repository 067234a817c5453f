#include "tests/support/dig.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <regex>
#include <sstream>
#include <utility>

namespace holdfast::testing {

bool DigResult::HasFlag(const std::string& flag) const {
  return std::find(flags.begin(), flags.end(), flag) != flags.end();
}

DigResult ParseDig(const RunResult& run) {
  DigResult r;
  r.ok = run.exited && run.exit_code == 0;
  r.out = run.out;
  r.err = run.err;
  const std::string& out = r.out;
  // dig: "status: NOERROR, id: 1", "flags: qr aa rd; QUERY: 1, ANSWER: 2, ...";
  // kdig: "status: NOERROR; id: 1", "Flags: qr aa rd; QUERY: 1; ANSWER: 2; ...".
  static const std::regex kStatus("status: ([A-Z]+)");
  static const std::regex kFlags(";; [Ff]lags:([a-z ]*);");
  static const std::regex kAnswers("ANSWER: ([0-9]+)");
  std::smatch m;
  if (std::regex_search(out, m, kStatus)) r.status = m[1];
  if (std::regex_search(out, m, kFlags)) {
    std::istringstream words(m[1].str());
    for (std::string f; words >> f;) r.flags.push_back(f);
  }
  if (std::regex_search(out, m, kAnswers)) r.answer_count = std::stoi(m[1]);

  std::istringstream in(out);
  bool in_answer = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(";; ANSWER SECTION:", 0) == 0) {
      in_answer = true;
      continue;
    }
    if (!in_answer) continue;
    if (line.empty() || line[0] == ';') break;  // the end of the section (of the first reply)
    std::istringstream fields(line);
    DnsRecord rec;
    if (!(fields >> rec.name >> rec.ttl >> rec.rclass >> rec.type)) continue;
    std::getline(fields, rec.data);
    rec.data.erase(0, rec.data.find_first_not_of(" \t"));
    r.answer.push_back(std::move(rec));
  }
  return r;
}

DigResult Dig::operator()(const std::vector<std::string>& args) const {
  const bool kdig = tool == Tool::kKdig;
  std::vector<std::string> argv = {kdig ? "/usr/bin/kdig" : "/usr/bin/dig", "@" + server, "-p",
                                   std::to_string(port)};
  if (kdig) {
    argv.push_back("+timeout=" + std::to_string(timeout_s));
    argv.push_back("+retry=" + std::to_string(std::max(tries - 1, 0)));
  } else {
    argv.push_back("+time=" + std::to_string(timeout_s));
    argv.push_back("+tries=" + std::to_string(tries));
  }
  argv.insert(argv.end(), options.begin(), options.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return ParseDig(Run(argv, std::filesystem::temp_directory_path(), std::chrono::seconds(30)));
}

}  // namespace holdfast::testing
