#include "hs/common/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cerrno>
#include <cstdint>
#include <cstring>

namespace hs {

namespace {
Error errno_error(int err, const std::string& what, const std::string& path) {
  std::string msg = what + ": " + std::strerror(err);
  if (err == ENOENT) return not_found(msg, path);
  if (err == EACCES || err == EPERM) return permission_denied(msg, path);
  if (err == EISDIR) return invalid_argument(msg, path);
  return unavailable(msg, path);
}

// Closes a descriptor on scope exit.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

Result<std::string> read_file(const std::string& path, size_t max_bytes) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return errno_error(errno, "cannot open", path);
  struct stat st;
  if (::fstat(f.fd, &st) != 0) return errno_error(errno, "cannot stat", path);
  if (S_ISDIR(st.st_mode)) return invalid_argument("is a directory, expected a file", path);
  if (S_ISREG(st.st_mode) && static_cast<uint64_t>(st.st_size) > max_bytes)
    return invalid_argument("file is " + std::to_string(st.st_size) +
                                " bytes, more than the limit of " + std::to_string(max_bytes),
                            path);
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_error(errno, "cannot read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes)
      return invalid_argument("more than the limit of " + std::to_string(max_bytes) + " bytes",
                              path);
  }
  return out;
}

Status write_file_atomic(const std::string& path, const std::string& data, unsigned mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)};
  if (f.fd < 0) return errno_error(errno, "cannot create", tmp);
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(f.fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::unlink(tmp.c_str());
      return errno_error(err, "cannot write", tmp);
    }
    off += static_cast<size_t>(n);
  }
  if (::fchmod(f.fd, mode) != 0 || ::fsync(f.fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return errno_error(err, "cannot sync", tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return errno_error(err, "cannot rename into place", path);
  }
  return ok_status();
}

}  // namespace hs
