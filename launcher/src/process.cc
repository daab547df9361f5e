#include "hs/launcher/process.h"

#include "hs/common/subprocess.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <thread>

extern char** environ;

namespace hs::launcher {

namespace {

// Binds port `want` (0: any) on all IPv4 addresses and returns the port bound, or 0.
uint16_t try_bind(uint16_t want) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = htons(want);
  socklen_t len = sizeof a;
  int rc = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  if (rc == 0) rc = ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return rc == 0 ? ntohs(a.sin_port) : 0;
}

}  // namespace

Result<uint16_t> free_port() {
  uint16_t p = try_bind(0);
  if (p == 0) return unavailable(std::string("cannot find a free port: ") + std::strerror(errno));
  return p;
}

Result<uint16_t> free_port_block(uint32_t n) {
  if (n <= 1) return free_port();
  for (int attempt = 0; attempt < 64; ++attempt) {
    uint16_t base = try_bind(0);
    if (base == 0 || uint32_t{base} + n > 65535) continue;
    bool all = true;
    for (uint32_t k = 1; k < n && all; ++k) all = try_bind(static_cast<uint16_t>(base + k)) != 0;
    if (all) return base;
  }
  return unavailable("no block of " + std::to_string(n) + " consecutive free ports found");
}

int exit_code(int st) { return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st); }

Result<std::string> run_capture(const std::vector<std::string>& argv,
                                std::chrono::milliseconds timeout) {
  auto r = run_command(argv, timeout);
  if (!r.ok()) return r.error();
  std::string out = r->out + r->err;
  if (r->exit_code != 0)
    return unavailable(argv[0] + " exited with status " + std::to_string(r->exit_code) + ": " +
                       out.substr(0, 400));
  return out;
}

Result<pid_t> spawn(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env) {
  if (argv.empty()) return invalid_argument("nothing to run");
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (!env.count(kv.substr(0, kv.find('=')))) env_store.push_back(kv);
  }
  for (const auto& [k, v] : env) env_store.push_back(k + "=" + v);
  std::vector<char*> envp, args;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> copy = argv;
  for (auto& s : copy) args.push_back(s.data());
  args.push_back(nullptr);
  // fork + exec rather than posix_spawn: the engine must die with hs-launch (PDEATHSIG), so
  // that a SIGKILLed launcher never leaves a GPU-holding engine behind.
  int err_pipe[2];
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    return unavailable(std::string("pipe: ") + std::strerror(errno));
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(err_pipe[0]);
    ::close(err_pipe[1]);
    return unavailable(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the launcher died before prctl took effect
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // The engine's stdout joins its stderr: hs-launch's stdout carries only the registered URL.
    ::dup2(2, 1);
    ::execvpe(args[0], args.data(), envp.data());
    int e = errno;
    (void)!::write(err_pipe[1], &e, sizeof e);
    ::_exit(127);
  }
  ::close(err_pipe[1]);
  int child_errno = 0;
  ssize_t n = ::read(err_pipe[0], &child_errno, sizeof child_errno);
  ::close(err_pipe[0]);
  if (n == sizeof child_errno) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    return unavailable("cannot start " + argv[0] + ": " + std::strerror(child_errno));
  }
  return pid;
}

}  // namespace hs::launcher
