// rekall_mcp_fake_server: McpServer over stdin/stdout with FakeToolHandler,
// for tests/mcp (the MCP Python SDK as a real client).
//   --workers N       worker threads (default 2)
//   --max-bytes N     max_message_bytes (default 4 MiB)
//   --eof-grace-ms N  eof_grace (default 5000)
//   --rekall-tools    also list the Rekall tool specs
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "server/fake_tool_handler.h"
#include "server/mcp_server.h"

int main(int argc, char** argv) {
  rekall::server::ServerOptions options;
  options.name = "rekall-fake";
  bool rekall_tools = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> long {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return std::strtol(argv[++i], nullptr, 10);
    };
    if (arg == "--workers") {
      options.worker_threads = static_cast<int>(next());
    } else if (arg == "--max-bytes") {
      options.max_message_bytes = static_cast<size_t>(next());
    } else if (arg == "--eof-grace-ms") {
      options.eof_grace = std::chrono::milliseconds(next());
    } else if (arg == "--rekall-tools") {
      rekall_tools = true;
    } else {
      std::fprintf(stderr, "unknown argument %s\n", arg.c_str());
      return 2;
    }
  }
  rekall::server::FakeToolHandler handler(rekall_tools);
  int out = rekall::server::ReserveStdoutForProtocol();
  if (out < 0) {
    std::perror("rekall_mcp_fake_server: cannot reserve stdout");
    return 1;
  }
  rekall::server::McpServer server(&handler, options);
  return server.Run(STDIN_FILENO, out);
}
