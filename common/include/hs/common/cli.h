// Command-line parsing shared by heteroscale's tools. Header-only so that hs_common (linked
// into the SPANK plugin) does not depend on Boost.Program_options; only tools that include
// this link it.
#pragma once

#include <boost/program_options.hpp>
#include <cstdio>
#include <iostream>
#include <string_view>

namespace hs::cli {

// Runs `parser` with `options` into `vm`. Returns -1 to go on, 0 after printing --help, 2
// after printing "tool: what is wrong" for a bad command line.
inline int parse(boost::program_options::command_line_parser parser,
                 const boost::program_options::options_description& options,
                 boost::program_options::variables_map& vm, std::string_view tool) {
  namespace po = boost::program_options;
  try {
    po::store(parser.options(options).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "%.*s: %s\n", static_cast<int>(tool.size()), tool.data(), e.what());
    return 2;
  }
  if (vm.count("help")) {
    std::cout << options << "\n";
    return 0;
  }
  return -1;
}

}  // namespace hs::cli
