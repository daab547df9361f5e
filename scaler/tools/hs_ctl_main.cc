// hs-ctl: the operator's command line for heteroscaled.
//   hs-ctl [--url URL] [--token-file F] status | explain SERVICE | endpoints | pause | resume
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

#include "hs/common/cli.h"
#include "hs/common/file.h"
#include "hs/common/http.h"
#include "hs/common/text.h"

namespace po = boost::program_options;
using namespace hs;
using nlohmann::json;

int main(int argc, char** argv) {
  std::string url = "http://127.0.0.1:8470", token_file, command, service;
  po::options_description d(
      "hs-ctl [--url URL] [--token-file FILE] status | explain SERVICE | endpoints | pause | "
      "resume");
  d.add_options()("help,h", "this help")("url", po::value(&url)->value_name("URL"),
                                         "heteroscaled's address (default http://127.0.0.1:8470)")(
      "token-file", po::value(&token_file)->value_name("FILE"),
      "bearer token for pause/resume when the daemon has one")(
      "json", "print the daemon's JSON as is")("command", po::value(&command),
                                               "status, explain, endpoints, pause, resume")(
      "service", po::value(&service), "service name (explain)");
  po::positional_options_description pos;
  pos.add("command", 1).add("service", 1);
  po::variables_map vm;
  if (int rc = cli::parse(po::command_line_parser(argc, argv).positional(pos), d, vm, "hs-ctl");
      rc >= 0)
    return rc;
  auto u = http::parse_url(url);
  if (!u.ok()) {
    std::fprintf(stderr, "hs-ctl: --url: %s\n", u.error().message.c_str());
    return 2;
  }
  http::ClientOptions co;
  co.timeout = std::chrono::seconds(10);
  if (!token_file.empty()) {
    auto t = read_file(token_file, 4096);
    if (!t.ok()) {
      std::fprintf(stderr, "hs-ctl: %s\n", t.error().to_string().c_str());
      return 2;
    }
    co.headers.push_back({"Authorization", "Bearer " + std::string(trim(*t))});
  }
  std::string method = "GET", target;
  if (command == "status")
    target = "/hs/status";
  else if (command == "endpoints")
    target = "/hs/endpoints";
  else if (command == "explain") {
    if (service.empty()) {
      std::fprintf(stderr, "hs-ctl: explain needs a SERVICE\n");
      return 2;
    }
    target = "/hs/explain?service=" + service;
  } else if (command == "pause" || command == "resume") {
    method = "POST";
    target = "/hs/" + command;
  } else {
    std::fprintf(stderr, "hs-ctl: unknown command %s (status, explain, endpoints, pause, resume)\n",
                 quote(command).c_str());
    return 2;
  }
  auto r = http::request(u->host, u->port, method, target, method == "POST" ? "{}" : "", co);
  if (!r.ok()) {
    std::fprintf(stderr, "hs-ctl: %s\n", r.error().to_string().c_str());
    return 1;
  }
  if (r->status != 200) {
    std::fprintf(stderr, "hs-ctl: %d %s\n", r->status, r->body.c_str());
    return 1;
  }
  if (vm.count("json") || command == "endpoints" || method == "POST") {
    std::cout << r->body << (ends_with(r->body, "\n") ? "" : "\n");
    return 0;
  }
  json j;
  try {
    j = json::parse(r->body);
  } catch (const json::exception& e) {
    std::fprintf(stderr, "hs-ctl: bad answer: %s\n", e.what());
    return 1;
  }
  auto print_service = [](const json& s, bool stages) {
    std::cout << s["service"].get<std::string>() << ":";
    if (s.contains("decision"))
      std::cout << " " << s["decision"]["direction"].get<std::string>() << " current "
                << s["decision"]["current"]["prefill"] << "P/" << s["decision"]["current"]["decode"]
                << "D desired " << s["decision"]["desired"]["prefill"] << "P/"
                << s["decision"]["desired"]["decode"] << "D";
    if (!s["hold_reason"].get<std::string>().empty())
      std::cout << " (" << s["hold_reason"].get<std::string>() << ")";
    std::cout << "\n";
    for (auto& [g, roles] : s["groups"].items())
      for (auto& [role, c] : roles.items())
        std::cout << "  group " << g << " " << role << ": " << c["current"] << " current, "
                  << c["ready"] << " ready\n";
    if (stages && s.contains("decision"))
      for (const auto& st : s["decision"]["stages"])
        std::cout << "  stage " << st["stage"].get<std::string>() << " -> " << st["prefill"] << "P/"
                  << st["decode"] << "D: " << st["reason"].get<std::string>() << "\n";
    for (const auto& a : s["actions"]) std::cout << "  action " << a.get<std::string>() << "\n";
  };
  if (command == "explain") {
    print_service(j, true);
    return 0;
  }
  std::cout << "slurm: " << j["slurm"].get<std::string>()
            << (j["paused"].get<bool>() ? "; PAUSED" : "")
            << (j["dry_run"].get<bool>() ? "; dry run" : "") << "\n";
  for (const auto& s : j["services"]) print_service(s, false);
  return 0;
}
